"""--stall-warning: while the loop thread is kept from the loop past the
threshold, the host prints one warning naming the program's line and the
fix, and one summary line at the end.  The scenarios count and grep
lines; the only timing is the programs' own 1.5 s stalls against a
300 ms threshold, far enough apart that a machine busy enough to keep the
loop thread off a CPU for 300 ms before the stall starts (and so to name
another line) is not a plausible test machine."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest
from hostrun import host_env, line_of

WARNING = re.compile(
    r"outrun: the event loop has been stuck for (?P<ms>\d+) ms at "
    r"(?P<file>.+?):(?P<line>\d+)(?: in (?P<func>\S+)\(\)|, at the top "
    r"level)(?:, inside (?:(?P<inside>\S+)\(\)|the import of "
    r"(?P<module>\S+)))?; (?P<hint>.+)")
SUMMARY_ONE = re.compile(
    r"outrun: the event loop stalled once, for (?P<worst>\d+) ms; see the "
    r"warning above")
SUMMARY_MANY = re.compile(
    r"outrun: the event loop stalled (?P<n>\d+) times for (?P<total>[\d.]+) "
    r"s in total \(worst (?P<worst>\d+) ms\); see the warnings above")

LOOPS = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(
    importlib.util.find_spec("uvloop") is None,
    reason="uvloop is not installed"))]


def warnings_in(stderr: str) -> list[re.Match[str]]:
    """The warning lines of stderr; any other line that starts like one
    fails the test."""
    found = []
    for text in stderr.splitlines():
        if text.startswith("outrun: the event loop has been stuck"):
            m = WARNING.fullmatch(text)
            assert m, text
            found.append(m)
    return found


def only_warning(stderr: str, program: Path, marker: str,
                 threshold: int = 300) -> re.Match[str]:
    """The one warning of stderr, which names program at marker's line
    after at least threshold ms."""
    found = warnings_in(stderr)
    assert len(found) == 1, stderr
    w = found[0]
    assert w["file"] == str(program), stderr
    assert int(w["line"]) == line_of(program, marker), stderr
    assert int(w["ms"]) >= threshold, stderr
    return w


def summary(stderr: str) -> re.Match[str]:
    """The summary, which is the last line of stderr."""
    last = stderr.splitlines()[-1]
    m = SUMMARY_ONE.fullmatch(last) or SUMMARY_MANY.fullmatch(last)
    assert m, stderr
    return m


# The warning names the line and the fix ----------------------------------

@pytest.mark.parametrize("loop", LOOPS)
def test_time_sleep_at_top_level(outrun, program, loop):
    prog = program("stall_sleep.py")

    proc = outrun("run", "--loop", loop, "--stall-warning", "300", prog)

    assert proc.returncode == 0, proc.stderr
    w = only_warning(proc.stderr, prog, "# stall: sleep")
    assert w["func"] is None and w["inside"] is None, proc.stderr
    assert w["hint"] == "use await asyncio.sleep(...) instead", proc.stderr
    # Printed while the stall went on, before the line that follows it.
    lines = proc.stderr.splitlines()
    assert lines.index(w.group(0)) < lines.index("after the stall"), lines
    assert int(summary(proc.stderr)["worst"]) >= int(w["ms"]), proc.stderr


def test_subprocess_in_a_task(outrun, program):
    prog = program("stall_subprocess.py")

    proc = outrun("run", "--stall-warning", "300", prog)

    assert proc.returncode == 0, proc.stderr
    w = only_warning(proc.stderr, prog, "# stall: subprocess")
    assert w["func"] == "deploy", proc.stderr
    assert w["inside"] == "subprocess.run", proc.stderr
    assert "outrun.process.run([...])" in w["hint"], proc.stderr
    summary(proc.stderr)


def test_cpu_bound_function(outrun, program):
    prog = program("stall_cpu.py")

    proc = outrun("run", "--stall-warning", "300", prog)

    assert proc.returncode == 0, proc.stderr
    found = warnings_in(proc.stderr)
    assert len(found) == 1, proc.stderr
    w = found[0]
    assert w["file"] == str(prog), proc.stderr
    # Wherever in the loop the thread was when the warning looked.
    assert int(w["line"]) in (line_of(prog, "# stall: cpu loop"),
                              line_of(prog, "# stall: cpu body")), proc.stderr
    assert w["func"] == "crunch" and w["inside"] is None, proc.stderr
    assert "outrun.offload(fn, ...)" in w["hint"], proc.stderr
    summary(proc.stderr)


def test_stall_inside_outrun_offload_is_not_told_to_offload(outrun,
                                                            program):
    prog = program("stall_in_offload.py")

    proc = outrun("run", "--stall-warning", "300", prog)

    assert proc.returncode == 0, proc.stderr
    w = only_warning(proc.stderr, prog, "# stall: offload")
    assert w["inside"] == "outrun._offload.offload", proc.stderr
    assert "outrun.offload" not in w["hint"], proc.stderr
    assert w["hint"].startswith("this is Outrun's own work"), proc.stderr
    summary(proc.stderr)


def test_slow_import_from_site_packages(outrun, tmp_path):
    # A folder named site-packages on PYTHONPATH holds library code, as an
    # installed package would be: the warning names the program's import.
    lib = tmp_path / "site-packages"
    lib.mkdir()
    (lib / "slowmod.py").write_text("import time\ntime.sleep(1.5)\n")
    prog = tmp_path / "main.py"
    prog.write_text("import slowmod  # stall: import\n")

    proc = outrun("run", "--stall-warning", "300", prog,
                  env=host_env(PYTHONPATH=os.pathsep.join(
                      [str(lib), host_env()["PYTHONPATH"]])))

    assert proc.returncode == 0, proc.stderr
    w = only_warning(proc.stderr, prog, "# stall: import")
    assert w["module"] == "slowmod", proc.stderr
    assert w["hint"].startswith("imports run on the loop thread"), proc.stderr
    summary(proc.stderr)


# One warning per stall, one summary, exit codes unchanged ---------------

@pytest.mark.parametrize("arg, code", [("0", 0), ("3", 3), ("raise", 1)])
def test_two_stalls_two_warnings_one_summary(outrun, program, arg, code):
    prog = program("stall_twice.py")

    proc = outrun("run", "--stall-warning", "300", prog, arg)

    assert proc.returncode == code, proc.stderr
    found = warnings_in(proc.stderr)
    assert [int(w["line"]) for w in found] == [
        line_of(prog, "# stall: first"), line_of(prog, "# stall: second")
    ], proc.stderr
    s = summary(proc.stderr)
    assert s["n"] == "2", proc.stderr
    assert float(s["total"]) * 1000 >= int(s["worst"]), proc.stderr
    if arg == "raise":
        assert "RuntimeError: failed after stalling" in proc.stderr


def test_default_threshold_warns(outrun, program):
    prog = program("stall_sleep.py")

    proc = outrun("run", prog)

    assert proc.returncode == 0, proc.stderr
    only_warning(proc.stderr, prog, "# stall: sleep", threshold=200)
    summary(proc.stderr)


# Nothing to say -----------------------------------------------------------

def test_zero_turns_it_off(outrun, program):
    proc = outrun("run", "--stall-warning", "0", program("stall_sleep.py"))

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "after the stall\n"


@pytest.mark.parametrize("loop", LOOPS)
def test_awaiting_is_no_stall(outrun, program, loop):
    proc = outrun("run", "--loop", loop, "--stall-warning", "300",
                  program("stall_none.py"))

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done\n"
    assert proc.stderr == ""
