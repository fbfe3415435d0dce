"""Issue 11, item 13: the loop never freezes.  Submitting more calls than
the pool's queue holds never makes the loop thread wait, and running out
of file descriptors makes process calls wait for them instead of failing.

The scenarios count: waits for room in the queue, jobs queued past its
cap, stall warnings above a generous threshold (2.5 s holds against a
1 s threshold), calls that succeeded and failed."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest


def counts(stdout: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in stdout.splitlines()
                if " " in line)


def stall_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines()
            if line.startswith("outrun: the event loop has been stuck")]


@pytest.mark.parametrize("kind, n, threads", [
    # 10,000 offloads through the default pool (64 threads, a queue of
    # 4,096): the queue fills while the calls wait at the gate.
    ("offload", 10_000, None),
    # 400 processes through 2 threads (a queue of 128).
    ("process", 400, "2"),
])
def test_submitting_past_the_queue_cap_never_waits(outrun, program,
                                                   tmp_path: Path, kind, n,
                                                   threads):
    threads_args = ["--threads", threads] if threads else []
    proc = outrun("run", "--stall-warning", "1000", *threads_args,
                  program("flood.py"), kind, str(n), tmp_path / "flag")

    assert proc.returncode == 0, proc.stderr
    c = counts(proc.stdout)
    assert c["ok"] == str(n), proc.stdout
    # The loop thread never waited for room in the queue ...
    assert c["submit_waits"] == "0", proc.stdout
    # ... though the calls went past its cap ...
    assert int(c["over_cap"]) > 0, proc.stdout
    # ... and the watchdog saw no stall while the gate held them.
    assert stall_warnings(proc.stderr) == [], proc.stderr


def test_finished_jobs_are_settled_in_batches(outrun, program):
    # 5,000 finished jobs waiting in the channel are settled 256 per loop
    # callback, so that timers and other callbacks run between (before:
    # all 5,000 in one callback, with their continuations).
    proc = outrun("run", "--stall-warning", "0", program("pileup.py"),
                  "5000")

    assert proc.returncode == 0, proc.stderr
    c = counts(proc.stdout)
    assert c["ok"] == "5000", proc.stdout
    assert int(c["drain_batch_peak"]) <= 256, proc.stdout


def limit_descriptors(soft: int):
    def set_limit() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return set_limit


def test_out_of_descriptors_calls_wait_instead_of_failing(outrun, program):
    # 64 threads starting processes at once need about 450 descriptors;
    # 256 is the soft limit of many systems.  Before: the 195th call raised
    # EMFILE and calls already started failed with it.
    proc = outrun("run", program("nofile.py"), "1000",
                  preexec_fn=limit_descriptors(256))

    assert proc.returncode == 0, proc.stderr
    c = counts(proc.stdout)
    assert c["raised"] == "{}", proc.stdout
    assert c["failed"] == "{}", proc.stdout
    assert c["ok"] == "1000", proc.stdout


def test_out_of_descriptors_with_none_to_wait_for_fails_clearly(outrun,
                                                                tmp_path):
    # The program itself holds every descriptor: no process of ours will
    # give one back, so the call fails (it does not wait for ever), with
    # a message that says what to do.
    prog = tmp_path / "hog.py"
    prog.write_text(
        "import os, asyncio, outrun\n"
        "held = []\n"
        "try:\n"
        "    while True:\n"
        "        held.append(os.open(os.devnull, os.O_RDONLY))\n"
        "except OSError:\n"
        "    pass\n"
        "os.close(held.pop())\n"
        "try:\n"
        "    await outrun.process.run(['true']).future()\n"
        "except OSError as exc:\n"
        "    print('failed', exc.errno)\n"
        "    print(exc)\n")
    proc = outrun("run", prog, preexec_fn=limit_descriptors(256))

    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "failed 24", proc.stdout
    assert "raise the limit (ulimit -n)" in lines[1], proc.stdout
