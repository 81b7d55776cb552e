"""Output names derived from any key: safe, readable, and never shared by two keys."""

from __future__ import annotations

import re

import pytest

from ocr_task.naming import output_name, unique_names


@pytest.mark.parametrize(
    ("key", "readable"),
    [
        ("incoming/2024/scan.pdf", "incoming/2024/scan.pdf"),
        ("incoming/my scan (1).pdf", "incoming/my_scan_(1).pdf"),
        ("счета/Счёт №5 от 01.02.pdf", "счета/Счёт_№5_от_01.02.pdf"),
        ("../../etc/passwd.png", "etc/passwd.png"),
        ("/leading//double/slashes.png", "leading/double/slashes.png"),
        ("a/./b/../c.tif", "a/b/c.tif"),
        ("what?<>|:*.png", "what______.png"),
        ("tab\tand\nnewline.jpg", "tab_and_newline.jpg"),
        (".hidden.png", "hidden.png"),
        ("..", "document"),
    ],
)
def test_names_are_safe_relative_paths(key, readable):
    name = output_name(key)
    assert re.sub(r"~[0-9a-f]{8}", "", name) == readable
    assert not name.startswith("/") and ".." not in name.split("/")
    assert all(segment and not segment.startswith(".") for segment in name.split("/"))


def test_clean_keys_keep_their_name_and_changed_keys_get_a_hash():
    assert output_name("incoming/a.pdf") == "incoming/a.pdf"
    assert output_name("incoming/a b.pdf") != output_name("incoming/a_b.pdf")
    assert re.fullmatch(r"incoming/a_b~[0-9a-f]{8}\.pdf", output_name("incoming/a b.pdf"))  # type stays last


def test_very_long_keys_are_cut_to_a_file_system_limit():
    name = output_name("x/" + "ж" * 400 + ".pdf")
    assert all(len(segment.encode()) <= 200 for segment in name.split("/"))


def test_batch_names_are_unique():
    names = unique_names(["a/x.png", "b/x.png", "x.png", "x.png"])
    assert len(set(names)) == 4
