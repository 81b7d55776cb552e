"""Documents from the wild that nobody here made: real scans from the test resources of OCRmyPDF's sdist.

The sdist (from PyPI, the one registry this machine reaches) carries pages
users really send: a two-column product leaflet of 1985 (``linn``, also as
CCITT, JBIG2, skewed and rotated PDFs), a typewriter recipe, a Project
Gutenberg book page and a map with place names. They are fetched once into
``.cache/wild/`` (pinned by hash) and not copied into this repository: their
licences (GFDL / CC BY-SA, public domain) are listed in the sdist's
``REUSE.toml``. ``tests/data/wild/`` holds our transcriptions of their text.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "wild"
TRUTH = Path(__file__).resolve().parent / "data" / "wild"
SDIST = "ocrmypdf-17.13.0.tar.gz"
SDIST_SHA256 = "151c35d810eb628fbc5cb9bbe80b834ecf094737efa0e7a2e9e1fac3c730ed49"
FILES = (
    "linn.pdf", "linn.png", "ccitt.pdf", "jbig2.pdf", "skew.pdf", "rotated_skew.pdf", "cardinal.pdf",
    "typewriter.png", "c03-29.pdf", "baiona.png", "epson.pdf",
)  # fmt: skip


def resources() -> Path:
    """The folder holding ``FILES``, downloaded and unpacked on first use."""
    folder = CACHE / "resources"
    if all((folder / name).exists() for name in FILES):
        return folder
    archive = CACHE / SDIST
    if not archive.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        name, version = SDIST.removesuffix(".tar.gz").rsplit("-", 1)
        command = [sys.executable, "-m", "pip", "download", f"{name}=={version}", "--no-binary", ":all:"]
        subprocess.run([*command, "--no-deps", "--quiet", "-d", str(CACHE)], check=True)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise RuntimeError(f"{archive}: sha256 {digest}, expected {SDIST_SHA256}")
    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"{SDIST.removesuffix('.tar.gz')}/tests/resources/"
    with tarfile.open(archive) as tar:
        for name in FILES:
            member = tar.getmember(prefix + name)
            (folder / name).write_bytes(tar.extractfile(member).read())
    return folder


LINN_COPIES = ("ccitt", "jbig2", "skew", "rotated_skew")  # the leaflet's page in other encodings, skewed, turned


def truth(name: str) -> str:
    """Our transcription of a wild document's text (``tests/data/wild/<stem>.txt``)."""
    stem = name.split(".")[0]
    return (TRUTH / f"{'linn' if stem in LINN_COPIES else stem}.txt").read_text()
