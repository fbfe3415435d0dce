"""outrun run PROGRAM: the program's top level, its failures, its exit
codes, outrun.run(main), tracked work and what is left at exit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hostrun import PROMPT, host_env, line_of

# The SDK's files a failure passes through: the host's entry, the
# dispatch, the program runner and the loop runtime.
SDK_FILES = tuple(os.path.join("outrun", name) for name in (
    "_host.py", "_cli.py", "_runner.py", "_loop.py"))
ASYNCIO_DIR = os.sep + "asyncio" + os.sep


def assert_user_frames_only(stderr: str) -> None:
    """A failure report shows the program's frames, none of the SDK's,
    asyncio's or the host's."""
    assert stderr.startswith("Traceback (most recent call last):"), stderr
    assert not any(f in stderr for f in SDK_FILES), stderr
    assert ASYNCIO_DIR not in stderr, stderr
    assert "outrun: internal error" not in stderr, stderr


def test_program_runs_as_main_with_its_argv_on_the_loop(outrun, program):
    hello = program("hello.py")

    proc = outrun("run", hello, "one", "--loop", "-x")

    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["argv"] == [str(hello), "one", "--loop", "-x"]
    assert seen["name"] == "__main__"
    assert seen["file"] == str(hello)
    assert seen["loop"].startswith("asyncio.")
    assert seen["in_task"] is True
    assert proc.stderr == ""


def test_argv0_is_program_as_written(outrun, program, tmp_path):
    (tmp_path / "hello.py").write_text(program("hello.py").read_text())

    proc = outrun("run", "hello.py")

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["argv"] == ["hello.py"]


def test_folder_with_main_runs_and_imports_its_sibling(outrun, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "helper.py").write_text("GREETING = 'hello from the helper'\n")
    (app / "__main__.py").write_text(
        "import sys\nimport helper\n"
        "print(helper.GREETING, __name__, sys.argv[1:])\n")

    proc = outrun("run", app, "arg")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello from the helper __main__ ['arg']\n"


def test_program_folder_is_on_sys_path(outrun, tmp_path):
    # Run from tmp_path, not from the program's folder, which must be
    # searched all the same.
    project = tmp_path / "project"
    project.mkdir()
    (project / "sibling.py").write_text("VALUE = 42\n")
    (project / "main.py").write_text("import sibling\nprint(sibling.VALUE)\n")

    proc = outrun("run", project / "main.py")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "42\n"


# Failures -----------------------------------------------------------------


def test_exception_shows_the_program_frames_only(outrun, program):
    fail = program("fail.py")

    proc = outrun("run", fail)

    assert proc.returncode == 1
    assert proc.stdout == ""
    assert_user_frames_only(proc.stderr)
    raise_line = line_of(fail, 'raise ValueError')
    call_line = line_of(fail, "    inner()")
    assert f'File "{fail}", line {raise_line}, in inner' in proc.stderr
    assert f'File "{fail}", line {call_line}, in outer' in proc.stderr
    assert proc.stderr.rstrip().endswith(
        "ValueError: the program failed on purpose")


def test_exception_in_an_awaited_async_function(outrun, program):
    fail = program("fail_async.py")

    proc = outrun("run", fail)

    assert proc.returncode == 1
    assert_user_frames_only(proc.stderr)
    assert (f'File "{fail}", line {line_of(fail, "raise LookupError")}, '
            "in step") in proc.stderr
    assert (f'File "{fail}", line {line_of(fail, "await asyncio.wait_for")}'
            ", in <module>") in proc.stderr
    assert proc.stderr.rstrip().endswith(
        "LookupError: the async step failed on purpose")


def test_syntax_error_shows_file_and_line(outrun, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("ok = 1\nnot_closed = (\n")

    proc = outrun("run", broken)

    assert proc.returncode == 1
    assert f'File "{broken}", line 2' in proc.stderr
    assert "SyntaxError" in proc.stderr
    assert not any(f in proc.stderr for f in SDK_FILES), proc.stderr
    assert "outrun: internal error" not in proc.stderr


# Exit codes ---------------------------------------------------------------


@pytest.mark.parametrize(("arg", "code", "stderr"), [
    ("0", 0, ""),
    ("3", 3, ""),
    ("none", 0, ""),
    ("a message to the user", 1, "a message to the user\n"),
])
def test_sys_exit_gives_its_code(outrun, program, arg, code, stderr):
    proc = outrun("run", program("exit_with.py"), arg)

    assert proc.returncode == code
    assert proc.stderr == stderr


def test_sys_exit_inside_outrun_run_main(outrun, program):
    proc = outrun("run", program("run_main.py"), "5")

    assert proc.returncode == 5, proc.stderr
    assert proc.stdout == "main finished\n"
    assert proc.stderr == ""


def test_asyncio_run_is_refused_with_the_alternatives(outrun, program):
    misuse = program("asyncio_run.py")

    # Warnings shown every time, so that a coroutine left unawaited would
    # be reported.
    proc = outrun("run", misuse,
                  env=host_env(PYTHONWARNINGS="always"))

    assert proc.returncode == 1
    assert proc.stdout == ""
    assert_user_frames_only(proc.stderr)
    assert (f'File "{misuse}", line {line_of(misuse, "asyncio.run(main())")}'
            in proc.stderr)
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("RuntimeError: asyncio.run() cannot be used")
    for alternative in ("`await`", "Output.from_input", "outrun.run(main)"):
        assert alternative in message
    assert "never awaited" not in proc.stderr
    assert "RuntimeWarning" not in proc.stderr


# outrun.run(main) and tracked work ----------------------------------------


def test_outrun_run_main_is_waited_for(outrun, program):
    proc = outrun("run", program("run_main.py"))

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "main finished\n"


@pytest.mark.parametrize(("args", "code"), [((), 0), (("6",), 6)])
def test_outrun_run_program_under_plain_python3(python3, program, args, code):
    proc = python3(program("run_main.py"), *args)

    assert proc.returncode == code, proc.stderr
    assert proc.stdout == "main finished\n"
    assert proc.stderr == ""


def test_tracked_work_is_waited_for(outrun, program):
    proc = outrun("run", program("track.py"))

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["top level finished",
                                        "tracked work finished"]


def test_failing_tracked_work_fails_the_run(outrun, program):
    track = program("track.py")

    proc = outrun("run", track, "fail")

    assert proc.returncode == 1
    assert proc.stdout.splitlines() == ["top level finished",
                                        "tracked work finished"]
    assert_user_frames_only(proc.stderr)
    assert (f'File "{track}", line {line_of(track, "raise KeyError")}, '
            "in failing") in proc.stderr
    assert proc.stderr.rstrip().endswith(
        "KeyError: 'tracked work failed on purpose'")


# What is left at exit -----------------------------------------------------


def test_background_tasks_are_cancelled_at_exit(outrun, program):
    # Both tasks would sleep an hour: the deadline proves they were not
    # waited for, the cleanup line that they were cancelled.
    proc = outrun("run", program("background.py"), timeout=PROMPT)

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["top level finished",
                                        "background cleanup"]
    assert proc.stderr == ""


def test_sys_exit_in_cleanup_at_exit_gives_its_code(outrun, program):
    proc = outrun("run", program("exit_in_cleanup.py"), timeout=PROMPT)

    assert proc.returncode == 4, proc.stderr
    assert proc.stdout == "top level finished\n"
    assert "outrun: internal error" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sdk_is_importable_from_a_program(outrun, tmp_path: Path):
    (tmp_path / "p.py").write_text(
        "import _outrun, outrun\n"
        "print(outrun.__version__ == _outrun.__version__)\n")

    proc = outrun("run", "p.py")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "True\n"
