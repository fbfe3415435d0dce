"""report_failure: python3's traceback of a failure, without the frames of
the SDK and asyncio that the user did not write."""

from __future__ import annotations

import asyncio
import os
import traceback

import outrun
import pytest
from outrun import _loop

SDK_DIR = os.path.dirname(os.path.abspath(_loop.__file__)) + os.sep
ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__)) + os.sep
THIS_FILE = os.path.abspath(__file__)


def _failure_of(main) -> BaseException:
    """The exception outrun.run(main) raises: its traceback passes through
    the SDK and asyncio."""
    with pytest.raises(BaseException) as info:
        outrun.run(main)
    exc = info.value
    everything = "".join(traceback.format_exception(exc))
    # What the report must leave out is there to begin with.
    assert SDK_DIR in everything
    assert ASYNCIO_DIR in everything
    return exc


def _report(exc: BaseException, capsys) -> str:
    _loop.report_failure(exc)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert SDK_DIR not in captured.err
    assert ASYNCIO_DIR not in captured.err
    return captured.err


async def _user_function_that_fails():
    await asyncio.sleep(0)
    raise ValueError("user failure")


def test_keeps_the_user_frames_and_the_message(capsys):
    async def main():
        await _user_function_that_fails()

    err = _report(_failure_of(main), capsys)

    assert err.startswith("Traceback (most recent call last):\n")
    assert f'File "{THIS_FILE}"' in err
    assert "in main\n" in err
    assert "in _user_function_that_fails\n" in err
    assert err.endswith("ValueError: user failure\n")


def test_strips_chained_exceptions_too(capsys):
    async def main():
        try:
            await _user_function_that_fails()
        except ValueError as exc:
            raise RuntimeError("while handling it") from exc

    err = _report(_failure_of(main), capsys)

    assert "ValueError: user failure" in err
    assert "direct cause" in err
    assert err.endswith("RuntimeError: while handling it\n")


def test_strips_the_members_of_an_exception_group(capsys):
    async def main():
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_user_function_that_fails())

    err = _report(_failure_of(main), capsys)

    assert "ExceptionGroup" in err
    assert "in _user_function_that_fails\n" in err
    assert "ValueError: user failure" in err


def test_syntax_error_keeps_file_and_line(capsys):
    with pytest.raises(SyntaxError) as info:
        compile("ok = 1\nnot_closed = (\n", "program.py", "exec")

    _loop.report_failure(info.value)
    err = capsys.readouterr().err

    assert 'File "program.py", line 2' in err
    assert "SyntaxError" in err
