"""Process: ``outrun.process.run`` beside asyncio's ways of running one.

N runs of ``true``, all started at once and gathered, on each side:

- ``asyncio.create_subprocess_exec`` and ``wait()``, its output to
  ``/dev/null``: less work than Outrun does, and the row with the goal;
- ``asyncio.create_subprocess_exec`` and ``communicate()``, stdout and
  stderr captured;
- ``subprocess.run(capture_output=True)`` inside ``asyncio.to_thread``
  (the loop's default executor, ``min(32, cpus + 4)`` threads);
- ``outrun.process.run(["true"])``, awaited through ``.future()``, which
  always captures stdout and stderr.

On every side stdin is ``/dev/null`` and the exit code is checked.  The
sides run in this one process, in turn, each sample on a fresh event loop;
the default executor is made once and serves every loop.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable

from outrun.bench._harness import (
    KeptExecutor,
    Row,
    on_fresh_loop,
    paired,
    rotate,
)

# The most outrun/peer may be against create_subprocess_exec: 1.8x faster.
GOAL = 1 / 1.8
N = 1_000


def _check(ok: bool, what: str) -> None:
    # A failed process must fail the benchmark, not time it.
    if not ok:
        raise RuntimeError(what)


async def _exec_wait(true: str) -> int:
    proc = await asyncio.create_subprocess_exec(
        true, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    return await proc.wait()


async def _exec(true: str) -> int:
    proc = await asyncio.create_subprocess_exec(
        true, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    await proc.communicate()
    return proc.returncode if proc.returncode is not None else -1


async def _to_thread(true: str) -> int:
    proc = await asyncio.to_thread(
        subprocess.run, [true], stdin=subprocess.DEVNULL,
        capture_output=True, check=False)
    return proc.returncode


async def _outrun(true: str) -> int:
    import outrun

    # check=True, the default: a failure rejects the Output.
    result = await outrun.process.run([true]).future()
    assert result is not None  # a command's result is always known
    return result.returncode if result.returncode is not None else -1


async def gathered(one: Callable[[str], Awaitable[int]], true: str,
                   n: int) -> float:
    """n runs of true with one(), all at once.  Seconds in all."""
    start = time.perf_counter()
    codes = await asyncio.gather(*[one(true) for _ in range(n)])
    elapsed = time.perf_counter() - start
    failed = [c for c in codes if c != 0]
    _check(not failed, f"{len(failed)} of {n} runs of {true} failed "
                       f"(exit codes {sorted(set(failed))})")
    return elapsed


def run(host: str, runs: int, scale: float = 1.0) -> list[Row]:
    """Measures the scenario; returns its rows."""
    true = shutil.which("true")
    _check(true is not None, "no 'true' on PATH")
    assert true is not None
    n = max(1, round(N * scale))
    default = KeptExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4))
    sides: list[tuple[str, Callable[[str], Awaitable[int]],
                      KeptExecutor | None]] = [
        ("create_subprocess_exec + wait", _exec_wait, None),
        ("create_subprocess_exec + communicate", _exec, None),
        ("subprocess.run in to_thread", _to_thread, default),
        ("outrun.process.run", _outrun, None),
    ]

    def sample(one: Callable[[str], Awaitable[int]],
               executor: KeptExecutor | None) -> Callable[[], float]:
        return lambda: on_fresh_loop(lambda: gathered(one, true, n),
                                     executor)

    try:
        samples = rotate([sample(one, e) for _, one, e in sides], runs)
    finally:
        default.close()
    ours = samples[-1]
    rows: list[Row] = []
    for (peer, _, _), peer_samples, goal in zip(sides, samples,
                                                (GOAL, None, None)):
        rows.append(paired(
            f"{n:,} x true, gathered", peer, peer_samples, ours, goal=goal,
            note="" if rows else (
                f"median of {runs} runs each, the four sides in turn, "
                "every run on a fresh event loop; stdin /dev/null, exit "
                "codes checked; + wait: output to /dev/null, the others "
                f"capture stdout and stderr; {true}")))
    return rows

