"""Ctrl-C: the first cancels the program and lets its cleanup run (exit
130), a second exits at once.  Every program here would otherwise sleep a
minute; the PROMPT deadline proves the host did not wait it out."""

from __future__ import annotations

import signal
import sys

import pytest
from hostrun import OUTRUN, PROMPT, Running


def interrupt_once(run: Running) -> tuple[list[str], str]:
    """Sends one Ctrl-C, checks that the host exits 130 as interrupted, and
    returns what it printed on stdout and stderr."""
    run.interrupt()
    code, stdout, stderr = run.finish(timeout=PROMPT)
    assert code == 130, stderr
    assert "outrun: interrupted" in stderr
    assert "internal error" not in stderr
    assert "Traceback" not in stderr
    return stdout, stderr


@pytest.mark.parametrize("args", [
    # The loop is waiting at the program's await: the main task is
    # cancelled.
    ["sigint_await.py"],
    # The top level is inside a blocking call: KeyboardInterrupt is raised
    # there.
    ["sigint_blocking.py"],
    # The top level is over and the host waits for tracked work.
    ["sigint_sdk.py", "track"],
    # outrun.run(main) inside the host.
    ["sigint_sdk.py", "run"],
])
def test_first_ctrl_c_runs_cleanup_and_exits_130(start, program, args):
    run = start([OUTRUN, "run", program(args[0]), *args[1:]])
    run.expect("READY")

    stdout, _ = interrupt_once(run)

    assert stdout == ["READY", "CLEANUP"]


def test_second_ctrl_c_exits_while_cleanup_still_waits(start, program):
    run = start([OUTRUN, "run", program("sigint_slow_cleanup.py")])
    run.expect("READY")
    run.interrupt()
    run.expect("CLEANUP-START")

    run.interrupt()
    code, stdout, stderr = run.finish(timeout=PROMPT)

    assert code == 130, stderr
    assert "CLEANUP-END" not in stdout
    assert "interrupted again" in stderr


def test_ctrl_c_while_leftover_tasks_clean_up_at_exit(start, program):
    # The top level is over and the host is cancelling a background task
    # whose cleanup waits: Ctrl-C ends the wait as an interruption, not as
    # a failure of the SDK.
    run = start([OUTRUN, "run", program("sigint_exit_cleanup.py")])
    run.expect("CLEANUP-START")

    stdout, _ = interrupt_once(run)

    assert stdout == ["top level finished", "CLEANUP-START"]


def test_sigint_ignored_at_start_stays_ignored(start, program):
    # As with python3: a process started with SIGINT ignored (a background
    # job of a shell script) is not interrupted by it.
    run = start([OUTRUN, "run", program("sigint_ignored.py")],
                ignore_sigint=True)
    run.expect("READY")

    run.interrupt()
    code, stdout, stderr = run.finish(input="still here\n")

    assert code == 0, stderr
    assert stdout == ["READY", "got still here"]


def test_ctrl_c_in_outrun_run_under_python3_is_keyboard_interrupt(
        start, program):
    # Like asyncio.run: main's cleanup runs, then KeyboardInterrupt ends
    # python3 the usual way (killed by SIGINT), not a CancelledError.
    run = start([sys.executable, program("sigint_sdk.py"), "run"])
    run.expect("READY")

    run.interrupt()
    code, stdout, stderr = run.finish(timeout=PROMPT)

    assert code == -signal.SIGINT, stderr
    assert stdout == ["READY", "CLEANUP"]
    assert stderr.rstrip().endswith("KeyboardInterrupt")
    assert "CancelledError" not in stderr


def test_each_run_in_one_session_counts_its_own_ctrl_c(start, program):
    # `outrun python` running two outrun.run() calls: the host's count of
    # Ctrl-Cs starts again with each run, so the second run's first
    # Ctrl-C still lets its cleanup run instead of exiting at once.
    run = start([OUTRUN, "python", program("sigint_two_runs.py")])
    for name in ("1", "2"):
        run.expect(f"READY-{name}")
        run.interrupt()
        run.expect(f"CLEANUP-{name}")
        run.expect(f"INTERRUPTED-{name}")
    code, stdout, stderr = run.finish(timeout=PROMPT)

    assert code == 0, stderr
    assert stdout[-1:] == ["DONE"]
