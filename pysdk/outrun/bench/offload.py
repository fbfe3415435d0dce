"""Offload: Outrun's native pool beside asyncio's threads, for callables.

The peers are what asyncio gives a program: ``asyncio.to_thread`` (on the
loop's default executor, ``min(32, cpus + 4)`` threads) and
``loop.run_in_executor`` with a ``ThreadPoolExecutor`` as large as
Outrun's pool.  Outrun runs the same work with ``outrun.to_thread``, the
drop-in for ``asyncio.to_thread``, and with ``outrun.offload``, whose
Output is awaited through ``.future()``.

All four sides run in this one process, in turn, sample by sample; each
sample gets a fresh event loop.  The executors are made once and serve
every loop (their threads, once started, stay), as Outrun's pool does.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from outrun.bench._harness import (
    KeptExecutor,
    Row,
    on_fresh_loop,
    paired,
    rotate,
)

# The most outrun/peer may be against asyncio.to_thread.
GATHER_GOAL = 1 / 10
SEQUENTIAL_GOAL = 1.0
# The least ideal/actual may be for 1,000 sleeps of 10 ms.
EFFICIENCY_GOAL = 0.9

SEQUENTIAL_N = 10_000
GATHER_N = 10_000
SLEEP_NS = (10, 100, 1_000)
SLEEP_LS = (0.001, 0.010)
# The sleep row that carries the efficiency goal.
EFFICIENCY_N, EFFICIENCY_L = 1_000, 0.010

# A call of fn(*args) on one side, as an awaitable.
Call = Callable[..., Awaitable[Any]]


def _one() -> int:
    return 1


def _check(ok: bool, what: str) -> None:
    # A wrong result must fail the benchmark, not time it.
    if not ok:
        raise RuntimeError(what)


@dataclass
class Side:
    """One way of running a callable off the loop."""

    name: str
    # Given the running loop, returns the side's call(fn, *args).
    make_call: Callable[[asyncio.AbstractEventLoop], Call]
    # The loop's default executor, for asyncio.to_thread.
    default_executor: KeptExecutor | None = None

    def sample(self, measure: Callable[..., Awaitable[float]],
               *args: Any) -> float:
        """Runs measure(call, *args) once, on a fresh event loop."""
        async def main() -> float:
            call = self.make_call(asyncio.get_running_loop())
            return await measure(call, *args)

        return on_fresh_loop(main, self.default_executor)


def _offload_call(_: asyncio.AbstractEventLoop) -> Call:
    import outrun

    offload = outrun.offload
    return lambda fn, *args: offload(fn, *args).future()


def _sides(threads: int) -> tuple[list[Side], list[KeptExecutor]]:
    """The peers (asyncio.to_thread, run_in_executor) and Outrun's sides
    (to_thread, offload), and the executors to close afterwards."""
    import outrun

    # What asyncio makes for a loop that has no default executor.
    default = KeptExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4))
    sized = KeptExecutor(max_workers=threads)
    sides = [
        Side("asyncio.to_thread", lambda _: asyncio.to_thread, default),
        Side(f"run_in_executor(TPE({threads}))",
             lambda loop: lambda fn, *a: loop.run_in_executor(sized, fn, *a)),
        Side("outrun.to_thread", lambda _: outrun.to_thread),
        Side("outrun.offload", _offload_call),
    ]
    return sides, [default, sized]


def pool_threads() -> int:
    """The size of Outrun's pool, started by one offload if it has not
    started yet."""
    import _outrun

    import outrun

    async def once() -> float:
        await outrun.to_thread(_one)
        return 0.0

    if _outrun.pool_stats() is None:
        on_fresh_loop(once)
    stats = _outrun.pool_stats()
    if stats is None:
        raise RuntimeError("the pool did not start")
    return int(stats["threads"])


# ---------------------------------------------------------------------------
# The measurements: the same code for every side, on its call

async def sequential(call: Call, n: int) -> float:
    """await call(one), n times, one at a time.  Seconds per call."""
    value = 0
    start = time.perf_counter()
    for _ in range(n):
        value += await call(_one)
    elapsed = time.perf_counter() - start
    _check(value == n, f"{n} calls returned {value} in all")
    return elapsed / n


async def gathered(call: Call, n: int) -> float:
    """gather of n calls of one, all made at once.  Seconds in all."""
    start = time.perf_counter()
    values = await asyncio.gather(*[call(_one) for _ in range(n)])
    elapsed = time.perf_counter() - start
    _check(sum(values) == n, f"{n} calls returned {sum(values)} in all")
    return elapsed


async def sleeps(call: Call, n: int, seconds: float) -> float:
    """gather of n calls of time.sleep(seconds).  Seconds in all."""
    start = time.perf_counter()
    values = await asyncio.gather(
        *[call(time.sleep, seconds) for _ in range(n)])
    elapsed = time.perf_counter() - start
    _check(values == [None] * n, "time.sleep returned something")
    return elapsed


# ---------------------------------------------------------------------------

def _measure(sides: list[Side], runs: int,
             measure: Callable[..., Awaitable[float]],
             *args: Any) -> dict[str, list[float]]:
    """Samples of every side, in turn, round by round."""
    samples = rotate([functools.partial(s.sample, measure, *args)
                      for s in sides], runs)
    return {s.name: v for s, v in zip(sides, samples)}


def _row(scenario: str, samples: dict[str, list[float]], peer: str,
         ours: str, **fields: Any) -> Row:
    return paired(scenario, peer, samples[peer], samples[ours], **fields)


def _sizes(scale: float, *sizes: int) -> list[int]:
    return [max(1, round(n * scale)) for n in sizes]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:g} ms"


def run(host: str, runs: int, scale: float = 1.0) -> list[Row]:
    """Measures the scenario; returns its rows."""
    threads = pool_threads()
    sides, executors = _sides(threads)
    to_thread, executor, ours, offload = (s.name for s in sides)
    rows: list[Row] = []
    try:
        seq_n, gather_n = _sizes(scale, SEQUENTIAL_N, GATHER_N)
        for label, measure, n, goal, per in (
            (f"round trip x{seq_n:,}", sequential, seq_n,
             SEQUENTIAL_GOAL, "call"),
            (f"{gather_n:,} gathered", gathered, gather_n, GATHER_GOAL, ""),
        ):
            samples = _measure(sides, runs, measure, n)
            for peer, goal_here in ((to_thread, goal), (executor, None)):
                for side in (ours, offload):
                    rows.append(_row(f"{label}, {side}", samples, peer, side,
                                     goal=goal_here, per=per))
        rows[0].note = (
            f"median of {runs} runs each, the four sides in turn, every run "
            f"on a fresh event loop; a trivial callable; Outrun's pool "
            f"and the TPE: {threads} threads; "
            "asyncio.to_thread: the default executor, "
            f"{min(32, (os.cpu_count() or 1) + 4)} threads")

        sleep_sides = sides[1:]
        for seconds in SLEEP_LS:
            for n, size in zip(_sizes(scale, *SLEEP_NS), SLEEP_NS):
                ideal = math.ceil(n / threads) * seconds
                samples = _measure(sleep_sides, runs, sleeps, n, seconds)
                pair = []
                for side in (ours, offload):
                    row = _row(
                        f"{n:,} x time.sleep({_ms(seconds)}), {side}",
                        samples, executor, side, ideal=ideal)
                    if (size, seconds) == (EFFICIENCY_N, EFFICIENCY_L):
                        row.max_value = ideal / EFFICIENCY_GOAL
                    pair.append(row)
                pair[0].note = (
                    f"efficiency ideal/actual, ideal ceil({n:,}/{threads}) "
                    f"x {_ms(seconds)} = {_ms(ideal)}: peer "
                    f"{pair[0].peer_efficiency:.0%}, " + ", ".join(
                        f"{r.scenario.rsplit(', ', 1)[1]} "
                        f"{r.outrun_efficiency:.0%}" for r in pair))
                rows.extend(pair)
    finally:
        for e in executors:
            e.close()
    return rows
