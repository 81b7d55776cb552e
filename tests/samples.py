"""Synthetic scanned pages with known text, for tests, the benchmark and the demo.

Pages are A4 at 200 dpi by default, set in DejaVu (Debian's fonts-dejavu-core),
in English or Russian, one or two columns, clean or "scan-like" (skewed a
little, noisy, blurred, JPEG-compressed), and may be turned sideways.
:func:`cer` measures a recognised text against the text that was drawn.
"""

from __future__ import annotations

import io
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
)

ENGLISH = [
    "The quarterly report shows that revenue grew by twelve percent compared with the same period last year.",
    "Please return the signed copy of this agreement to our office no later than the end of the month.",
    "All invoices must be paid within thirty days of receipt unless another schedule was agreed in writing.",
    "The warehouse in Rotterdam received forty pallets of spare parts on Tuesday morning.",
    "Our engineers replaced the cooling pump and tested the system for six hours without interruption.",
    "If you have any questions about this statement, contact the accounting department by phone or email.",
    "The committee approved the new budget after a long discussion about travel expenses.",
    "Each employee is entitled to twenty working days of paid leave in a calendar year.",
    "The contractor shall deliver the equipment in its original packaging together with the documentation.",
    "Temperature readings were taken every fifteen minutes and stored in the central database.",
    "The board of directors will meet on the third Thursday of every month at ten o'clock.",
    "Shipping costs are calculated according to the weight and the volume of the parcel.",
    "A copy of the inspection certificate is attached to the delivery note of every batch.",
    "The tenant may not sublet the premises without the prior written consent of the landlord.",
    "Customer satisfaction improved after the support team extended its working hours.",
    "The pilot project in the northern region will run until the end of the next financial year.",
]

RUSSIAN = [
    "Отчёт за третий квартал показывает, что выручка выросла на двенадцать процентов по сравнению с прошлым годом.",
    "Просим вернуть подписанный экземпляр договора в наш офис не позднее конца текущего месяца.",
    "Все счета должны быть оплачены в течение тридцати дней с момента получения, если не согласован иной порядок.",
    "Склад в Новосибирске принял сорок паллет запасных частей во вторник утром.",
    "Наши инженеры заменили насос системы охлаждения и проверяли её работу шесть часов без перерыва.",
    "По всем вопросам, связанным с этой выпиской, обращайтесь в бухгалтерию по телефону или электронной почте.",
    "Комиссия утвердила новый бюджет после долгого обсуждения командировочных расходов.",
    "Каждый сотрудник имеет право на двадцать восемь календарных дней оплачиваемого отпуска в году.",
    "Подрядчик обязан поставить оборудование в заводской упаковке вместе с технической документацией.",
    "Показания температуры снимались каждые пятнадцать минут и сохранялись в центральной базе данных.",
    "Совет директоров собирается в третий четверг каждого месяца в десять часов утра.",
    "Стоимость доставки рассчитывается исходя из веса и объёма посылки.",
    "Копия акта проверки прилагается к товарной накладной каждой партии.",
    "Арендатор не вправе сдавать помещение в субаренду без письменного согласия арендодателя.",
    "Удовлетворённость клиентов выросла после того, как служба поддержки продлила часы работы.",
    "Пилотный проект в северном регионе продлится до конца следующего финансового года.",
]

CHINESE = [
    "发票必须在收到后三十天内支付。",
    "请将签署的合同副本寄回我们的办公室。",
    "仓库在星期二早上收到了四十个托盘的零件。",
    "如有任何问题，请联系会计部门。",
    "董事会每个月的第三个星期四开会。",
    "运费根据包裹的重量和体积计算。",
    "客户满意度在支持团队延长工作时间后有所提高。",
    "检验证书的副本附在每批货物的交货单上。",
]

MIXED_RU_EN = [  # the first lines are the English terms: OSD's small sample says "Latin"
    "Health check FastAPI vLLM S3 endpoint_url aws_default Celery worker PaddleOCR-VL.",
    "Решение проблемы: сервер vLLM и сервис FastAPI не отвечали на Health check, хранилище S3 было недоступно.",
    "Для PaddleOCR-VL нужен GPU с CUDA 12.6; модель PP-DocLayoutV3 загружается локально из каталога models.",
    "Проверьте endpoint_url в подключении aws_default и перезапустите Celery worker после изменения настроек.",
]

TEXTS = {"en": ENGLISH, "ru": RUSSIAN, "zh": CHINESE}
CJK_FONT_DIRS = (Path("/usr/share/fonts/truetype/wqy"), Path("/usr/share/fonts/wqy-microhei"))
A4_INCHES = (8.27, 11.69)


def find_font(bold: bool = False, lang: str = "en") -> Path:
    if lang == "zh":
        name, folders, package = "wqy-microhei.ttc", CJK_FONT_DIRS, "fonts-wqy-microhei"
    else:
        name, folders, package = (
            ("DejaVuSerif-Bold.ttf" if bold else "DejaVuSerif.ttf"),
            FONT_DIRS,
            "fonts-dejavu-core",
        )
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name} not found: apt-get install {package}")


@dataclass
class SamplePage:
    image: Image.Image
    text: str  # what was drawn, in reading order


def paragraphs(lang: str, count: int, seed: int) -> list[str]:
    """``count`` paragraphs of two or three sentences each, different for each seed."""
    rng = random.Random(seed)
    pool = TEXTS[lang]
    joiner = "" if lang == "zh" else " "
    return [joiner.join(rng.sample(pool, rng.choice((2, 3)))) for _ in range(count)]


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Lines that fit ``width``: broken between words, or between characters in text without spaces (CJK)."""
    spaced = " " in text
    lines, current = [], ""
    for unit in text.split() if spaced else list(text):
        candidate = f"{current} {unit}".strip() if spaced else current + unit
        if font.getlength(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = unit
    return lines + ([current] if current else [])


def render_page(
    paras: list[str],
    *,
    columns: int = 1,
    title: str | None = None,
    dpi: int = 200,
    point_size: float = 11,
    lang: str = "en",
) -> SamplePage:
    """Draw paragraphs on a white A4 page; two columns flow top to bottom, left then right."""
    width, height = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(find_font(lang=lang)), round(point_size * dpi / 72))
    margin, gutter = dpi, dpi // 3
    line_height = round(font.size * 1.4)
    drawn: list[str] = []
    top = margin
    if title:
        title_font = ImageFont.truetype(
            str(find_font(bold=True, lang=lang)), round(point_size * 1.8 * dpi / 72)
        )
        draw.text((margin, top), title, font=title_font, fill=0)
        drawn.append(title)
        top += round(title_font.size * 2.2)
    column_width = (width - 2 * margin - (columns - 1) * gutter) // columns
    column, y = 0, top
    for paragraph in paras:
        lines = _wrap(paragraph, font, column_width)
        for line in lines:
            if y + line_height > height - margin:
                column, y = column + 1, top
                if column >= columns:
                    raise ValueError("text does not fit on the page")
            draw.text((margin + column * (column_width + gutter), y), line, font=font, fill=0)
            drawn.append(line)
            y += line_height
        y += line_height // 2
    return SamplePage(image, (" " if lang != "zh" else "").join(drawn))


def scan_like(image: Image.Image, seed: int, skew: float = 1.5) -> Image.Image:
    """What a cheap office scanner makes of a page: tilted, grey paper, noise, blur, JPEG artefacts."""
    rng = np.random.default_rng(seed)
    tilted = image.rotate(skew, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    pixels = np.asarray(tilted, dtype=np.float32) * (230 / 255) + 12
    pixels += rng.normal(0, 10, pixels.shape)
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.7))
    buffer = io.BytesIO()
    noisy.save(buffer, format="JPEG", quality=55)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def turned(image: Image.Image, degrees_clockwise: int) -> Image.Image:
    """The page as a scanner fed it turned by 90, 180 or 270 degrees clockwise."""
    return image.rotate(-degrees_clockwise, expand=True, fillcolor=255)


def text_layer_pdf(
    paras: list[str], path: Path, title: str | None = None, scanned_pages: list[Image.Image] = ()
) -> str:
    """A born-digital PDF page (a real text layer), then any ``scanned_pages`` as image-only pages.

    Returns the text of the born-digital page.
    """
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(find_font()))
    pdf.add_page()
    drawn = []
    if title:
        pdf.set_font("DejaVu", size=18)
        pdf.multi_cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
        drawn.append(title)
    pdf.set_font("DejaVu", size=11)
    for paragraph in paras:
        pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        drawn.append(paragraph)
    for scan in scanned_pages:
        pdf.add_page()
        pdf.image(scan.convert("RGB"), x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.output(str(path))
    return " ".join(drawn)


def image_pdf(images: list[Image.Image], path: Path, dpi: int = 200) -> None:
    """A scanned PDF: one image per page, no text layer."""
    first, *rest = [im.convert("RGB") for im in images]
    first.save(path, format="PDF", save_all=True, append_images=rest, resolution=dpi)


def render_pdf_page(pdf: Path, png: Path, dpi: int = 200) -> None:
    """A PDF's first page as a PNG (what a reader that cannot open PDFs gets), with pdfium."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    try:
        document[0].render(scale=dpi / 72).to_pil().convert("L").save(png, dpi=(dpi, dpi))
    finally:
        document.close()


def multipage_tiff(images: list[Image.Image], path: Path, dpi: int = 200) -> None:
    first, *rest = images
    first.save(
        path, format="TIFF", save_all=True, append_images=rest, compression="tiff_deflate", dpi=(dpi, dpi)
    )


def normalise(text: str) -> str:
    """Whitespace runs as one space; none at all between CJK characters (lines break anywhere there)."""
    text = " ".join(text.split())
    return re.sub(r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\u3000-\u9fff\uff00-\uffef])", "", text)


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edit distance over the reference's length, whitespace runs as one space."""
    from rapidfuzz.distance import Levenshtein

    ref, hyp = normalise(reference), normalise(hypothesis)
    return Levenshtein.distance(ref, hyp) / max(len(ref), 1)


def fax_like(page: SamplePage, seed: int, speckle: float = 0.004) -> Image.Image:
    """A page as a fax machine sends it: rendered at 100 dpi, slightly tilted, black and white, speckled.

    ``page`` must be rendered at 100 dpi (``render_page(..., dpi=100)``).
    """
    rng = np.random.default_rng(seed)
    tilted = page.image.rotate(0.6, resample=Image.Resampling.BICUBIC, fillcolor=255)
    pixels = np.asarray(tilted) < 150  # ink, after the fax's fixed threshold
    pixels ^= rng.random(pixels.shape) < speckle  # line noise: stray dots, dropped ones
    return Image.fromarray(np.where(pixels, 0, 255).astype(np.uint8)).convert("1")


INVOICE_ROWS = [
    ["№", "Наименование", "Кол-во", "Цена", "Сумма"],
    ["1", "Бумага офисная А4", "15", "320,00", "4 800,00"],
    ["2", "Картридж лазерный", "2", "5 450,00", "10 900,00"],
    ["3", "Папка-регистратор", "24", "185,50", "4 452,00"],
    ["4", "Ручка шариковая синяя", "100", "12,30", "1 230,00"],
]


BANK_ROWS = [
    ["ПАО Сбербанк г. Москва", "БИК 044525225"],
    ["Получатель ООО «Ромашка»", "Сч. № 40702810"],
]
NOTE_LINES = ["Оплата", "в течение", "5 дней.", "Товар", "отпускается", "по факту", "оплаты."]


def _ruled_table(
    draw, font, left: int, top: int, width: int, rows: list[list[str]], shares
) -> tuple[int, int]:
    """A table with a border around every cell; returns its bottom and right edges."""
    xs = [left]
    for share in shares:
        xs.append(xs[-1] + round(share * width))
    row_height = round(font.size * 2.2)
    for r, row in enumerate(rows):
        y = top + r * row_height
        for c, cell in enumerate(row):
            draw.text((xs[c] + font.size // 2, y + (row_height - font.size) // 2), cell, font=font, fill=0)
    bottom = top + len(rows) * row_height
    for r in range(len(rows) + 1):
        draw.line([(xs[0], top + r * row_height), (xs[-1], top + r * row_height)], fill=0, width=3)
    for x in xs:
        draw.line([(x, top), (x, bottom)], fill=0, width=3)
    return bottom, xs[-1]


def invoice_page(dpi: int = 200, *, bank_table: bool = False, note_beside: bool = False) -> SamplePage:
    """A Russian invoice: a heading line, a ruled table (borders around every cell), a closing line.

    ``bank_table``: a second ruled table (the bank's details) above the heading; ``note_beside``: the goods
    table narrower, with a note in lines to its right. The text is what was drawn in reading order: each
    row's cells joined by tabs on a line of their own.
    """
    width, height = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(find_font(lang="ru")), round(11 * dpi / 72))
    margin, drawn = dpi, []
    top = margin
    if bank_table:
        top, _ = _ruled_table(draw, font, margin, top, width - 2 * margin, BANK_ROWS, [0.6, 0.4])
        drawn += ["\t".join(row) for row in BANK_ROWS]
        top += 2 * font.size
    heading, closing = "Счёт № 417 от 12 марта 2024 года", "Итого к оплате: 21 382,00 руб."
    if note_beside:  # the closing line runs under the note too, as the sum in words does
        closing += " (двадцать одна тысяча триста восемьдесят два рубля)"
    draw.text((margin, top), heading, font=font, fill=0)
    drawn.append(heading)
    table_width = round((width - 2 * margin) * (0.8 if note_beside else 1))
    top += 3 * font.size
    bottom, right = _ruled_table(
        draw, font, margin, top, table_width, INVOICE_ROWS, [0.06, 0.42, 0.13, 0.18, 0.21]
    )
    drawn += ["\t".join(row) for row in INVOICE_ROWS]
    if note_beside:
        for i, line in enumerate(NOTE_LINES):
            draw.text((right + font.size, top + round(i * 1.5 * font.size)), line, font=font, fill=0)
        drawn += NOTE_LINES
    draw.text((margin, bottom + 2 * font.size), closing, font=font, fill=0)
    drawn.append(closing)
    return SamplePage(image, "\n".join(drawn))


def small_image(lines: list[str], size: int, width: int, lang: str = "en") -> SamplePage:
    """A crop or a one-line label as users upload them: ``lines`` of ``size``-pixel type, a few pixels of margin."""
    font = ImageFont.truetype(str(find_font(lang=lang)), size)
    line_height = round(size * 1.5)
    image = Image.new("L", (width, line_height * len(lines) + size), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((6, size // 2 + i * line_height), line, font=font, fill=0)
    return SamplePage(image, "\n".join(lines))


PLACES = {
    "en": ["Mugerre", "Bayonne", "Urcuit", "Lahonce", "Briscous", "Hasparren", "Ustaritz", "Jatxou", "Halsou",
           "Larressore", "Cambo", "Itxassou", "Espelette", "Villefranque"],
    "ru": ["Москва", "Тверь", "Клин", "Дмитров", "Сергиев Посад", "Коломна", "Серпухов", "Можайск", "Руза",
           "Волоколамск", "Кашира", "Звенигород"],
}  # fmt: skip
LEGENDS = {"en": "Carte du canton, 12 mai 1898", "ru": "Карта уезда, 12 мая 1898 г."}


def labelled_drawing(seed: int, size: int = 22, lang: str = "en") -> SamplePage:
    """A map's worth of sparse text: six place names among the lines of a drawing (each name on a white halo, as
    maps print them) and a legend with a date. The text is the names, then the legend."""
    rng = random.Random(seed)
    image = Image.new("L", (1654, 1169), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(find_font(lang=lang)), size)
    for _ in range(10):
        points = [(rng.randint(0, 1654), rng.randint(0, 1169)) for _ in range(3)]
        draw.line(points, fill=0, width=rng.choice((1, 2, 3)))
    labels = [
        ((100 + (i % 3) * 500 + rng.randint(0, 150), 150 + (i // 3) * 400 + rng.randint(0, 100)), name)
        for i, name in enumerate(rng.sample(PLACES[lang], 6))
    ]
    for (x, y), text in [*labels, ((60, 1080), LEGENDS[lang])]:
        box = draw.textbbox((x, y), text, font=font)
        draw.rectangle([box[0] - 6, box[1] - 6, box[2] + 6, box[3] + 6], fill=255)
        draw.text((x, y), text, font=font, fill=0)
    return SamplePage(image, "\n".join([*(name for _, name in labels), LEGENDS[lang]]))


def on_grey_paper(image: Image.Image, level: float = 0.75) -> Image.Image:
    """The page as a scanner sees recycled or yellowed paper: everything darker, the paper mid-grey."""
    return Image.fromarray((np.asarray(image.convert("L"), dtype=np.float32) * level).astype(np.uint8))


def photo_like(image: Image.Image, seed: int) -> Image.Image:
    """A page photographed by a phone: on a dark desk, in keystone perspective, lit from one side, soft.

    RGB, like a phone's JPEG. The page fills about two thirds of the frame.
    """
    import cv2

    rng = np.random.default_rng(seed)
    page = np.asarray(image.convert("L"), dtype=np.float32)
    height, width = page.shape
    frame_w, frame_h = round(width * 1.35), round(height * 1.25)
    # the page's corners in the photo: the top edge narrower (the phone tilted back), slightly turned
    inset = width * 0.09
    corners = np.float32(
        [
            [frame_w * 0.16 + inset + rng.normal(0, 8), frame_h * 0.08 + rng.normal(0, 8)],
            [frame_w * 0.84 - inset + rng.normal(0, 8), frame_h * 0.10 + rng.normal(0, 8)],
            [frame_w * 0.92 + rng.normal(0, 8), frame_h * 0.93 + rng.normal(0, 8)],
            [frame_w * 0.08 + rng.normal(0, 8), frame_h * 0.91 + rng.normal(0, 8)],
        ]
    )
    source = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(source, corners)
    desk = np.full((frame_h, frame_w), 70, np.float32) + rng.normal(0, 6, (frame_h, frame_w))
    warped = cv2.warpPerspective(page, matrix, (frame_w, frame_h), borderValue=-1)
    photo = np.where(warped >= 0, warped, desk)
    # light falling off from the upper left
    yy, xx = np.mgrid[0:frame_h, 0:frame_w].astype(np.float32)
    light = 1.0 - 0.45 * (xx / frame_w * 0.6 + yy / frame_h * 0.4)
    photo = cv2.GaussianBlur(photo * light, (0, 0), 1.2) + rng.normal(0, 4, photo.shape)
    rgb = np.repeat(np.clip(photo, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    rgb[:, :, 2] = np.clip(rgb[:, :, 2].astype(np.int16) - 12, 0, 255)  # warm indoor light
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=85)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
