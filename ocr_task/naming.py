"""Output names derived from source keys, safe for any key.

A key may hold spaces, any Unicode, ``..`` segments, leading or doubled
slashes, control characters, or be very long. The name keeps the key's
folders and its extension (so ``a.pdf`` and ``a.png`` do not collide) and
stays readable; when anything had to change, a short hash of the original
key is added so that two keys never map to one name. A name is its own name
(``output_name(output_name(k)) == output_name(k)``): the Airflow side plans
names with this rule, and the OCR step, applying it again, keeps them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_UNSAFE = re.compile(r'[\x00-\x1f\x7f\\:*?"<>|]')
_SPACES = re.compile(r"\s+")
_MAX_SEGMENT_BYTES = 180  # leaves room for ".json" and a hash under the usual 255-byte limit
_TAG_BYTES = 18  # "~" and a hash, or a hash and a batch's counter (unique_names): cut segments leave room for it


def _clean_segment(segment: str) -> str:
    segment = _SPACES.sub("_", _UNSAFE.sub("_", segment)).lstrip(".")
    encoded = segment.encode("utf-8")
    if len(encoded) > _MAX_SEGMENT_BYTES:  # cut short enough that, tagged, it is still under the limit
        segment = encoded[: _MAX_SEGMENT_BYTES - _TAG_BYTES].decode("utf-8", errors="ignore")
    return segment


def output_name(key: str) -> str:
    """Relative output name (without the .md/.json/.txt suffix) for a source key or path."""
    normal = unicodedata.normalize("NFC", key)
    segments = [_clean_segment(s) for s in normal.split("/") if s not in ("", ".", "..")]
    segments = [s for s in segments if s]
    name = "/".join(segments) or "document"
    if name != key:
        name = _tagged(name, hashlib.sha256(key.encode("utf-8")).hexdigest()[:8])
    return name


def _tagged(name: str, tag: str) -> str:
    """``a/b.pdf`` with ``~tag`` before its extension: ``a/b~tag.pdf`` (the type stays readable)."""
    folder, _, file = name.rpartition("/")
    stem, dot, extension = file.rpartition(".")
    file = f"{stem}~{tag}.{extension}" if dot and stem else f"{file}~{tag}"
    return f"{folder}/{file}" if folder else file


def unique_names(keys: list[str]) -> list[str]:
    """Output names for a batch, disambiguated where two keys would share one."""
    names = [output_name(k) for k in keys]
    seen: dict[str, int] = {}
    result = []
    for key, name in zip(keys, names, strict=True):
        if name in seen:
            name = _tagged(name, f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:8]}-{seen[name]}")
        seen[name] = seen.get(name, 0) + 1
        result.append(name)
    return result
