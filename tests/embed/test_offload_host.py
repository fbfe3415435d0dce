"""Native offload under `outrun run`: the host waits for offloaded work and
processes as for any pending Output, and at the end (or on Ctrl-C) it never
waits for work still in flight: queued jobs are cancelled, processes are
killed with their group, Python callables get a short grace period."""

from __future__ import annotations

import os

from hostrun import OUTRUN, PROMPT, process_gone



def test_the_run_waits_for_offloaded_work_and_processes(outrun, program):
    proc = outrun("run", program("offload_waited.py"))

    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.splitlines()) == ["OFFLOAD offloaded",
                                                "PROCESS from a process 0"]


def test_ctrl_c_with_work_in_flight_exits_and_kills_the_process(
        start, program, tmp_path):
    pidfile = tmp_path / "pid"
    run = start([OUTRUN, "run", program("offload_inflight.py"), "wait",
                 pidfile])
    run.expect("READY")
    pid = int(pidfile.read_text())
    run.interrupt()
    code, _, stderr = run.finish(timeout=PROMPT)

    assert code == 130, stderr
    assert process_gone(pid), f"the child {pid} outlived the run"


def test_ctrl_c_inside_on_output_ends_the_run(start, program, tmp_path):
    # The Ctrl-C lands in the program's on_output, which native code calls:
    # it must leave the loop as from any callback, not be reported as
    # "Exception ignored" while the run waits for the process for ever.
    pidfile = tmp_path / "pid"
    run = start([OUTRUN, "run", program("sigint_on_output.py"), "interrupt",
                 pidfile])
    run.expect("READY")
    pid = int(pidfile.read_text())
    run.interrupt()
    code, _, stderr = run.finish(timeout=PROMPT)

    assert code == 130, stderr
    assert "Exception ignored" not in stderr, stderr
    assert process_gone(pid), f"the child {pid} outlived the run"


def test_sys_exit_inside_on_output_ends_the_run(start, program, tmp_path):
    pidfile = tmp_path / "pid"
    run = start([OUTRUN, "run", program("sigint_on_output.py"), "exit",
                 pidfile])
    code, _, stderr = run.finish(timeout=PROMPT)

    assert code == 3, stderr
    assert "Exception ignored" not in stderr, stderr
    assert process_gone(int(pidfile.read_text()))


def test_exit_with_work_in_flight_never_hangs(start, program, tmp_path):
    # sys.exit(0) at the end of the top level: the sleeping callable is
    # abandoned after the grace period, the sleeping process is killed, and
    # the run ends well before either minute is over.
    pidfile = tmp_path / "pid"
    run = start([OUTRUN, "run", program("offload_inflight.py"), "exit",
                 pidfile])
    code, _, stderr = run.finish(timeout=PROMPT)

    assert code == 0, stderr
    if pidfile.exists() and pidfile.read_text():
        assert process_gone(int(pidfile.read_text()))


def test_threads_option_sizes_the_pool(outrun, tmp_path):
    prog = tmp_path / "threads.py"
    prog.write_text(
        "import _outrun, outrun\n"
        "outrun.offload(int).apply(lambda v: print("
        "_outrun.pool_stats()['threads']))\n")

    assert outrun("run", "--threads", "3", prog).stdout == "3\n"
    env = dict(os.environ, OUTRUN_THREADS="5")
    assert outrun("run", prog, env=env).stdout == "5\n"
