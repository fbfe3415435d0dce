"""exit_code_of: the exit code python3 gives an uncaught SystemExit."""

from __future__ import annotations

import pytest
from outrun._loop import exit_code_of


@pytest.mark.parametrize(("code", "expected"), [
    (None, 0),
    (0, 0),
    (3, 3),
    (255, 255),
    # The operating system keeps the low 8 bits.
    (256 + 3, 3),
    (-1, 255),
    (True, 1),
    (False, 0),
])
def test_numbers(code, expected, capsys):
    assert exit_code_of(SystemExit(code)) == expected
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("code", "printed"), [
    ("a message", "a message\n"),
    (["not", "a", "number"], "['not', 'a', 'number']\n"),
])
def test_anything_else_is_printed_and_gives_1(code, printed, capsys):
    assert exit_code_of(SystemExit(code)) == 1
    captured = capsys.readouterr()
    assert captured.err == printed
    assert captured.out == ""


def test_no_arguments_is_success():
    assert exit_code_of(SystemExit()) == 0
