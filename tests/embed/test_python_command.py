"""outrun python: behaves as the python3 it embeds, with the SDK and the
built-in _outrun module importable."""

from __future__ import annotations

from pathlib import Path

import pytest

REPORT = ("import sys\n"
          "print(__name__, sys.argv, sum(range(10)))\n")


def _module(tmp_path: Path) -> None:
    (tmp_path / "reporter.py").write_text(REPORT)


@pytest.mark.parametrize(("args", "stdin"), [
    (["-c", REPORT, "a", "-b"], None),
    (["-m", "reporter", "a", "-b"], None),
    (["reporter.py", "a", "-b"], None),
    (["-", "a", "-b"], REPORT),
    (["-i"], "print(6 * 7)\nx = 5\nx + 1\n"),
    (["-c", "raise SystemExit(7)"], None),
    (["-c", "import sys; sys.exit('bye')"], None),
])
def test_behaves_like_python3(outrun, python3, tmp_path, args, stdin):
    _module(tmp_path)

    ours = outrun("python", *args, input=stdin)
    theirs = python3(*args, input=stdin)

    assert (ours.returncode, ours.stdout) == (theirs.returncode,
                                              theirs.stdout), ours.stderr
    if stdin is None:
        assert ours.stderr == theirs.stderr


def test_exception_reports_like_python3(outrun, python3, tmp_path):
    (tmp_path / "fails.py").write_text("x = 1\nraise ValueError('no')\n")

    ours = outrun("python", "fails.py")
    theirs = python3("fails.py")

    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr == theirs.stderr


def test_sdk_and_builtin_outrun_are_importable(outrun):
    proc = outrun("python", "-c",
                  "import sys, _outrun, outrun\n"
                  "print(_outrun.__spec__.origin)\n"
                  "print(hasattr(_outrun, '__file__'))\n"
                  "print('_outrun' in sys.builtin_module_names)\n"
                  "print(outrun.__version__ == _outrun.__version__)\n")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["built-in", "False", "True", "True"]
