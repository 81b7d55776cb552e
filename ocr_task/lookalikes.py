"""Cyrillic look-alikes in a Latin page: the few lines where they were read, read again with ``eng``.

``auto`` reads Latin and Cyrillic pages with the combined ``rus+eng`` model
(see ``engines.auto``). On an English or Dutch page it now and then reads a
short word in Cyrillic letters that look the same: ``be`` as ``Бе``, ``or``
as ``ог``, ``soep`` as ``зоер`` (a scanned two-column leaflet, a typewriter
page). Reading the whole page again with ``eng`` would double the time of
every such page; only the lines holding a Cyrillic letter are read again,
each alone, word by word with both models, and a Cyrillic word is replaced
by the ``eng`` word over it when that one is nearly as confident. A real
Russian word in an English text reads as Latin nonsense with ``eng``, far
less confidently, and stays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ocr_task.engines.auto import (
    LATIN_LANG,
    LATIN_MIN_LETTERS,
    MAX_LOOKALIKE_SHARE,
    UNKNOWN_SCRIPT_LANG,
    letters_of,
)
from ocr_task.engines.tesseract import Word
from ocr_task.layer_sample import crop_around
from ocr_task.result import Block, Line, PageResult

ReadWords = Callable[[np.ndarray, str], list[Word]]
# a look-alike read with ``eng`` loses at most a few points of confidence (``Бе`` 0.93 → ``be`` 0.92, ``зоер`` 0.93
# → ``soep`` 0.90); a real Russian word loses 0.2 to 0.8 (``Москва`` 0.93 → ``Mocxza`` 0.31, ``Петров`` 0.95 →
# ``Iletpos`` 0.73)
MAX_CONFIDENCE_DROP = 0.1
_SAME_GLYPHS = str.maketrans("аеорсухАВЕКМНОРСТХ", "aeopcyxABEKMHOPCTX")  # Cyrillic letters drawn as Latin ones


def has_cyrillic(text: str) -> bool:
    return letters_of(text)[1] > 0


def suspect_lines(result: PageResult, sparse: bool = False) -> list[Line]:
    """The lines holding Cyrillic letters in a page that the combined model read as Latin but for a few
    look-alikes; none for any other page (a Russian page, a page read in one script's model or by another
    engine). A ``sparse`` page (a label, a one-line crop: ``sparse``) has too few letters for the share to
    tell: there, a reading mostly in Latin letters is enough, and the word-by-word check decides."""
    if result.lang != UNKNOWN_SCRIPT_LANG:
        return []
    letters, cyrillic = letters_of(result.text)
    latin = 2 * cyrillic < letters if sparse else letters >= LATIN_MIN_LETTERS and cyrillic <= MAX_LOOKALIKE_SHARE * letters
    if not cyrillic or not latin:
        return []
    return [ln for block in result.blocks if block.cells is None for ln in block.lines if has_cyrillic(ln.text)]


def reread_lookalikes(
    result: PageResult, image: np.ndarray, read_words: ReadWords, sparse: bool = False
) -> tuple[PageResult, dict | None]:
    """``result`` with the look-alike words of its suspect lines replaced by their ``eng`` reading off ``image``
    (what was recognised); and what was done, for the page's ``language_check`` (None: nothing to do)."""
    suspects = suspect_lines(result, sparse)
    if not suspects:
        return result, None
    replaced: dict[int, Line] = {}
    changed = 0
    for line in suspects:
        crop = crop_around(image, line.bbox, 3)  # the line, not its neighbours
        tokens = line.text.split()
        words = latin_words(tokens, read_words(crop, UNKNOWN_SCRIPT_LANG), read_words(crop, LATIN_LANG))
        changed += sum(old != new for old, new in zip(tokens, words, strict=True))
        if words != tokens:
            replaced[id(line)] = replace(line, text=" ".join(words))
    check = {"lookalike_lines": len(suspects), "read_again_with": LATIN_LANG, "words_replaced": changed}
    if not replaced:
        return result, check
    return replace(result, blocks=[_with_lines(block, replaced) for block in result.blocks]), check


def latin_words(tokens: list[str], combined: list[Word], latin: list[Word]) -> list[str]:
    """A line's ``tokens`` with each word holding a Cyrillic letter replaced by the ``latin`` reading's word in
    its place, when that one is nearly as confident as the ``combined`` reading's (``MAX_CONFIDENCE_DROP``).
    The line is left as it is when the readings do not split it into as many words."""
    if not len(tokens) == len(combined) == len(latin):
        return tokens
    return [
        new.text if has_cyrillic(token) and not has_cyrillic(new.text) and _is_lookalike(token, old, new) else token
        for token, old, new in zip(tokens, combined, latin, strict=True)
    ]


def _is_lookalike(token: str, combined: Word, latin: Word) -> bool:
    """Whether ``token`` is the ``latin`` word in Cyrillic letters: drawn the same (``а`` for ``a``: one-letter
    words' confidences vary most), or read as nearly as confidently with ``eng``."""
    return token.translate(_SAME_GLYPHS) == latin.text or latin.confidence >= combined.confidence - MAX_CONFIDENCE_DROP


def _with_lines(block: Block, replaced: dict[int, Line]) -> Block:
    lines = [replaced.get(id(ln), ln) for ln in block.lines]
    return replace(block, lines=lines, text="\n".join(ln.text for ln in lines))
