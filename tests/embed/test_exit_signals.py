"""Exit with work in flight, and the signals that end a run: one shutdown
grace in all (issue 11, item 4); SIGTERM and SIGHUP stop a run as the
first Ctrl-C does, and kill every child (item 5); Ctrl-C during start-up
exits 130 cleanly, once or twice (item 6); direct children die with a
host killed by SIGKILL (item 5)."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from hostrun import OUTRUN, PROMPT, host_env, process_gone

# The host's shutdown grace for Python callables still running at exit.
GRACE = 2.0
# Exit must come within one grace plus generous slack; before the fix the
# grace was waited three times (2 + 2 + 5 s).
EXIT_DEADLINE = GRACE + 4.0


@pytest.mark.parametrize(("mode", "want"), [
    ("exit", 4), ("raise", 1), ("sigint", 130)])
def test_exit_with_a_call_in_flight_waits_one_grace(start, program, mode,
                                                     want):
    run = start([OUTRUN, "run", "--stall-warning", "0",
                 program("exit_inflight.py"),
                 "wait" if mode == "sigint" else mode])
    run.expect("EXITING")
    if mode == "sigint":
        run.interrupt()

    code, _, stderr = run.finish(timeout=EXIT_DEADLINE)

    assert code == want, stderr
    assert "internal error" not in stderr, stderr



def _wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """Waits (bounded) for pids to go; returns those still alive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if not process_gone(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return [p for p in pids if not process_gone(p)]


@pytest.mark.parametrize(("sig", "want", "message"), [
    (signal.SIGTERM, 143, "outrun: stopped by SIGTERM"),
    (signal.SIGHUP, 129, "outrun: stopped by SIGHUP"),
    (signal.SIGINT, 130, "outrun: interrupted"),
])
def test_a_stop_signal_cleans_up_and_kills_every_child(start, program,
                                                       tmp_path, sig, want,
                                                       message):
    pidfile = tmp_path / "pids"
    run = start([OUTRUN, "run", program("children.py"), pidfile])
    run.expect("READY")
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 3

    run.proc.send_signal(sig)
    code, _, stderr = run.finish(timeout=PROMPT)

    assert code == want, stderr
    assert message in stderr, stderr
    assert "Traceback" not in stderr, stderr
    assert _wait_gone(pids) == [], "children outlived the host"


def test_an_ignored_sighup_stays_ignored(start, program, tmp_path):
    # Under nohup SIGHUP arrives ignored; the host keeps it so, as any
    # program does, and a later SIGTERM still stops the run.
    pidfile = tmp_path / "pids"
    run = start([OUTRUN, "run", program("children.py"), pidfile],
                ignore_sighup=True)
    run.expect("READY")
    pids = [int(p) for p in pidfile.read_text().split()]

    run.proc.send_signal(signal.SIGHUP)
    # Still running after the SIGHUP: it prints nothing and waits.
    with pytest.raises(subprocess.TimeoutExpired):
        run.proc.wait(timeout=1.0)
    run.proc.send_signal(signal.SIGTERM)
    code, _, stderr = run.finish(timeout=PROMPT)

    assert code == 143, stderr
    assert "SIGHUP" not in stderr, stderr
    assert _wait_gone(pids) == [], "children outlived the host"


def test_direct_children_die_with_a_killed_host(start, program, tmp_path):
    # SIGKILL leaves the host no chance to kill its children's groups: each
    # child asked the kernel for SIGKILL when its parent dies
    # (PR_SET_PDEATHSIG).  Grandchildren are not covered (docs/cli.md).
    pidfile = tmp_path / "pids"
    run = start([OUTRUN, "run", program("children.py"), pidfile])
    run.expect("READY")
    pids = [int(p) for p in pidfile.read_text().split()]

    run.proc.send_signal(signal.SIGKILL)
    code, _, _ = run.finish(timeout=PROMPT)

    assert code == -signal.SIGKILL
    assert _wait_gone(pids) == [], "children outlived the killed host"


def _signal_caught(pid: int, sig: int) -> bool:
    """Whether pid has a handler for sig (its main() has started)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except FileNotFoundError:
        pass
    return False


# Delays after the host's main() started, across its whole start-up: the
# interpreter's initialisation, site, the SDK's imports and the program's.
STARTUP_DELAYS = [i * 0.3 / 20 for i in range(20)]


def _interrupt_during_startup(tmp_path, delay: float, times: int) -> None:
    prog = tmp_path / "prog.py"
    prog.write_text("import asyncio\nimport outrun\n"
                    "await asyncio.sleep(60)\n")
    proc = subprocess.Popen(
        [OUTRUN, "run", prog], cwd=tmp_path, env=host_env(),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(  # noqa: PLW1509
            signal.SIGINT, signal.SIG_DFL))
    try:
        # A signal that comes before the process's first instruction (while
        # the dynamic loader maps libpython) is the kernel's to act on.
        deadline = time.monotonic() + PROMPT
        while (not _signal_caught(proc.pid, signal.SIGINT)
               and proc.poll() is None and time.monotonic() < deadline):
            time.sleep(0.0005)
        time.sleep(delay)
        for _ in range(times):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.02)
        _, stderr = proc.communicate(timeout=PROMPT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (delay, proc.returncode, stderr)
    for bad in ("Traceback", "internal error", "Fatal Python error"):
        assert bad not in stderr, (delay, stderr)


@pytest.mark.parametrize("delay", STARTUP_DELAYS)
def test_ctrl_c_during_start_up_exits_130_cleanly(tmp_path, delay):
    _interrupt_during_startup(tmp_path, delay, 1)


@pytest.mark.parametrize("delay", STARTUP_DELAYS)
def test_double_ctrl_c_during_start_up_exits_130(tmp_path, delay):
    _interrupt_during_startup(tmp_path, delay, 2)


def _has_children(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return bool(f.read().split())
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(("sig", "want"), [(signal.SIGINT, 130),
                                           (signal.SIGTERM, 143)])
def test_a_stop_signal_stops_a_command_that_runs_no_program(tmp_path, sig,
                                                            want):
    # outrun bench runs no program: signals deferred during start-up must
    # not stay deferred until the whole benchmark is over.
    proc = subprocess.Popen(
        [OUTRUN, "bench", "startup", "--runs", "10000"], cwd=tmp_path,
        env=host_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(  # noqa: PLW1509
            signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + PROMPT
        while (not _has_children(proc.pid) and proc.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.01)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=PROMPT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == want, stderr
    assert "Traceback" not in stderr, stderr
