"""Outputs under `outrun run`: the host waits for the pending Outputs the
program made and for nothing else; an unrecovered failure in an apply fails
the run with the user's traceback; --debug-pending and SIGQUIT say what the
run waits on."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostrun import (
    DEADLINE,
    OUTRUN,
    PROMPT,
    Argv,
    Running,
    host_env,
    line_of,
)

SDK_DIR = os.sep + os.path.join("pysdk", "outrun") + os.sep
ASYNCIO_DIR = os.sep + "asyncio" + os.sep
LOOPS = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("uvloop") is None,
    reason="uvloop is not installed"))]


def assert_user_traceback(stderr: str) -> None:
    """The failure is reported as python3 would, without the frames of the
    SDK, asyncio or the host."""
    assert stderr.startswith("Traceback (most recent call last):"), stderr
    assert SDK_DIR not in stderr, stderr
    assert "outrun/_host.py" not in stderr, stderr
    assert ASYNCIO_DIR not in stderr, stderr
    assert "internal error" not in stderr, stderr


# Waiting -------------------------------------------------------------------


@pytest.mark.parametrize("loop", LOOPS)
def test_host_waits_for_pending_outputs_only(outrun, program, loop):
    proc = outrun("run", "--loop", loop, program("output_wait.py"),
                  timeout=PROMPT)

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "top level finished", "applied value", "nested applied value!"]
    # The unrelated hour-long task was not waited for (PROMPT proves it).
    assert "unrelated task finished" not in proc.stdout
    assert proc.stderr == ""


# Failures ------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "marker", "function", "last"), [
    ("function", "raise ValueError", "explode",
     "ValueError: explode failed on 1"),
    ("chain", "raise ValueError", "explode",
     "ValueError: explode failed on 1"),
    ("lambda", '{}["missing key"]', "<lambda>", "KeyError: 'missing key'"),
    ("awaited", "raise LookupError", "failing_input",
     "LookupError: the awaited input failed"),
])
def test_an_unused_failing_apply_fails_the_run(outrun, program, mode,
                                               marker, function, last):
    prog = program("output_fail.py")

    proc = outrun("run", prog, mode)

    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == "top level finished\n"
    assert_user_traceback(proc.stderr)
    line = line_of(prog, marker)
    assert f'File "{prog}", line {line}, in {function}' in proc.stderr
    assert proc.stderr.rstrip().endswith(last), proc.stderr
    # Reported once, though the failure rejected every Output after it.
    assert proc.stderr.count("Traceback (most recent call last)") == 1


def test_a_recovered_failure_does_not_fail_the_run(outrun, program):
    proc = outrun("run", program("output_fail.py"), "recover")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["top level finished",
                                        "recovered: explode failed on 1"]
    assert proc.stderr == ""


def test_a_failure_caught_from_future_is_handled(outrun, program):
    proc = outrun("run", program("output_handled.py"), "caught")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "handled\n"
    assert proc.stderr == ""


def test_an_uncaught_failure_of_future_fails_the_run_once(outrun, program):
    prog = program("output_handled.py")

    proc = outrun("run", prog, "uncaught")

    assert proc.returncode == 1, proc.stderr
    assert_user_traceback(proc.stderr)
    assert proc.stderr.count("Traceback (most recent call last)") == 1
    assert f'File "{prog}", line {line_of(prog, "# uncaught")}' \
        in proc.stderr
    assert "ProcessError: command failed with exit code 3" in proc.stderr


def test_outputs_inside_an_apply_s_value_resolve(outrun, program):
    proc = outrun("run", program("output_handled.py"), "nested")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[{'name': 's'}] True\n"


def test_ctrl_c_inside_an_apply_interrupts_the_run(start, program):
    run = start([OUTRUN, "run", program("output_interrupt.py"), "sigint"])
    run.expect("READY")

    run.interrupt()
    code, stdout, stderr = run.finish(timeout=PROMPT)

    assert stdout == ["top level finished", "READY", "CLEANUP"]
    assert code == 130, stderr
    assert "outrun: interrupted" in stderr


def test_sys_exit_inside_an_apply_exits_with_its_code(outrun, program):
    proc = outrun("run", program("output_interrupt.py"), "exit")

    assert proc.returncode == 7, proc.stderr
    assert "Traceback" not in proc.stderr


# What the run waits on -------------------------------------------------------


class Watched(Running):
    """A Running whose stderr is read line by line too."""

    def __init__(self, argv: Argv, cwd: Path) -> None:
        super().__init__(argv, cwd, host_env())
        self.stderr: list[str] = []
        self._err: queue.Queue[str | None] = queue.Queue()
        self._err_reader = threading.Thread(target=self._read_err,
                                            daemon=True)
        self._err_reader.start()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._err.put(line.rstrip("\n"))
        self._err.put(None)

    def expect_stderr(self, done: Callable[[str], bool],
                      timeout: float = DEADLINE) -> str:
        """Reads stderr until what it printed so far satisfies done;
        returns that text."""
        while not done("\n".join(self.stderr)):
            try:
                line = self._err.get(timeout=timeout)
            except queue.Empty:
                self.kill()
                pytest.fail(f"{self.argv}: stderr did not show what was "
                            f"expected within {timeout} s: {self.stderr}")
            if line is None:
                pytest.fail(f"{self.argv}: stderr closed before showing "
                            f"what was expected: {self.stderr}")
            self.stderr.append(line)
        return "\n".join(self.stderr)

    def _stderr(self) -> str:
        self._err_reader.join(DEADLINE)
        while not self._err.empty():
            line = self._err.get_nowait()
            if line is not None:
                self.stderr.append(line)
        return "\n".join(self.stderr)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if that is not enough."""
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        self.kill()


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[Callable[..., Watched]]:
    started: list[Watched] = []

    def begin(*args: str | os.PathLike[str]) -> Watched:
        w = Watched([OUTRUN, *args], tmp_path)
        started.append(w)
        return w

    yield begin
    for w in started:
        w.stop()


def test_debug_pending_names_the_pending_output(watch, program):
    prog = program("output_pending.py")
    deferred = line_of(prog, "# the deferred Output")
    applied = line_of(prog, "# the apply")
    run = watch("run", "--debug-pending=0.2", prog)
    run.expect("top level finished")

    report = run.expect_stderr(
        lambda text: f"{prog}:{deferred}" in text and f"{prog}:{applied}"
        in text)

    assert "pending" in report
    assert "waiting" in report or "waits" in report
    assert "cycle" not in report
    run.stop()


def test_debug_pending_names_a_cycle(watch, program):
    prog = program("output_pending.py")
    cycle = line_of(prog, "# the cycle")
    run = watch("run", "--debug-pending=0.2", prog, "cycle")
    run.expect("top level finished")

    report = run.expect_stderr(lambda text: "cycle" in text
                               and f"{prog}:{cycle}" in text)

    assert "pending" in report
    run.stop()


def test_debug_pending_names_the_line_that_offloaded(watch, program):
    prog = program("output_offload_hung.py")
    offload = line_of(prog, "# the offload")
    blocking = line_of(prog, "# the blocking call")
    run = watch("run", "--debug-pending=0.2", prog)
    run.expect("top level finished")

    report = run.expect_stderr(
        lambda text: f"{prog}:{offload}" in text and f"{prog}:{blocking}"
        in text)

    assert "_offload.py" not in report
    run.stop()


@pytest.mark.parametrize("loop", LOOPS)
def test_sigquit_prints_the_report_and_the_run_goes_on(watch, program,
                                                       loop):
    prog = program("output_sigquit.py")
    run = watch("run", "--loop", loop, prog)
    run.expect("READY")

    run.proc.send_signal(signal.SIGQUIT)
    # Where each Output was made is recorded only with --debug-pending;
    # what each waits on is said either way.
    report = run.expect_stderr(lambda text: "pending" in text
                               and "apply of <lambda>" in text)
    code, stdout, stderr = run.finish("go on\n")

    assert code == 0, stderr
    assert stdout == ["READY", "DONE go on"]
    assert "Traceback" not in stderr
    assert stderr.startswith(report)
