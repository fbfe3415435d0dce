"""FFI: outrun.ffi beside ctypes, for calls into a C library.

The peers are what a Python program does without Outrun: a ctypes
function called on the loop thread (blocking the loop for as long as the
call lasts), and the same ctypes function inside ``asyncio.to_thread`` (on
the loop's default executor, ``min(32, cpus + 4)`` threads).  Outrun calls
the same C function through ``outrun.ffi``: ``f.call(*args)``
synchronously with the GIL released, and ``f(*args)``, an Output settled
from Outrun's pool, awaited through ``.future()``.

The trivial function is libc's ``abs``, which every system has.  The
blocking one is ``int fixture_block(unsigned ms)`` of the foreign-call
test fixture (``tests/ffi/liboutrun-ffi-fixture.so`` in the build
directory beside the host, or ``OUTRUN_FFI_FIXTURE``); without it, that
row is left out and a note says so.

All sides run in this one process, in turn, sample by sample; each sample
gets a fresh event loop.  The default executor is made once and serves
every loop, as Outrun's pool does.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outrun.bench._harness import (
    KeptExecutor,
    Row,
    on_fresh_loop,
    paired,
    rotate,
)

# The most outrun/peer may be for an asynchronous call against ctypes in
# asyncio.to_thread.
ASYNC_GOAL = 1 / 5
# The least ideal/actual may be for 1,000 blocking calls of 10 ms.
EFFICIENCY_GOAL = 0.9

SYNC_N = 100_000
SEQUENTIAL_N = 10_000
GATHER_N = 10_000
BLOCK_N, BLOCK_MS = 1_000, 10

FIXTURE = "tests/ffi/liboutrun-ffi-fixture.so"

TO_THREAD = "ctypes in asyncio.to_thread"
ON_LOOP = "ctypes on the loop thread"


def _check(ok: bool, what: str) -> None:
    # A wrong result must fail the benchmark, not time it.
    if not ok:
        raise RuntimeError(what)


def libc_path() -> str:
    """The C library, by the name dlopen() knows it by."""
    return ctypes.util.find_library("c") or "libc.so.6"


def fixture_path(host: str) -> tuple[Path | None, str]:
    """The test fixture library, OUTRUN_FFI_FIXTURE when set, else the one
    beside the host in its build directory; (None, why) when it is not
    there."""
    if os.environ.get("OUTRUN_FFI_FIXTURE"):
        path = Path(os.environ["OUTRUN_FFI_FIXTURE"])
        where = f"no {path} (OUTRUN_FFI_FIXTURE)"
    else:
        path = Path(host).resolve().parent / FIXTURE
        where = f"no {FIXTURE} beside {host}, and OUTRUN_FFI_FIXTURE unset"
    return (path, "") if path.is_file() else (None, where)


@dataclass
class Funcs:
    """One C function as both sides see it."""

    ctypes_fn: Any
    outrun_fn: Any


def _abs() -> Funcs:
    import outrun.ffi

    c = ctypes.CDLL(libc_path()).abs
    c.restype = ctypes.c_int
    c.argtypes = [ctypes.c_int]
    o = outrun.ffi.load(libc_path()).function("abs", "int", ["int"])
    return Funcs(c, o)


def _block(path: Path) -> Funcs:
    import outrun.ffi

    c = ctypes.CDLL(str(path)).fixture_block
    c.restype = ctypes.c_int
    c.argtypes = [ctypes.c_uint]
    o = outrun.ffi.load(str(path)).function(
        "fixture_block", "int", ["unsigned int"])
    return Funcs(c, o)


def pool_threads(fn: Any) -> int:
    """The size of Outrun's pool, after one asynchronous call of fn(-1)
    (which starts the pool if nothing has yet)."""
    import _outrun

    async def once() -> float:
        _check(await fn(-1).future() == 1, "abs(-1) did not return 1")
        return 0.0

    on_fresh_loop(once)
    stats = _outrun.pool_stats()
    if stats is None:
        raise RuntimeError("the pool did not start")
    return int(stats["threads"])


# ---------------------------------------------------------------------------
# The measurements.  Every sample checks what came back, so that a broken
# side fails instead of looking fast.

def _sync_ctypes(fn: Any, n: int) -> float:
    total = 0
    start = time.perf_counter()
    for i in range(n):
        total += fn(-i)
    elapsed = time.perf_counter() - start
    _check(total == n * (n - 1) // 2, f"{n} calls of abs returned {total}")
    return elapsed / n


def _sync_outrun(fn: Any, n: int) -> float:
    call = fn.call
    total = 0
    start = time.perf_counter()
    for i in range(n):
        total += call(-i)
    elapsed = time.perf_counter() - start
    _check(total == n * (n - 1) // 2, f"{n} calls of abs returned {total}")
    return elapsed / n


# An asynchronous side: given the function, an awaitable of fn(*args).
Call = Callable[..., Awaitable[Any]]


def _to_thread(fn: Any) -> Call:
    return lambda *args: asyncio.to_thread(fn, *args)


def _outrun(fn: Any) -> Call:
    return lambda *args: fn(*args).future()


async def _on_loop(fn: Any, n: int) -> float:
    """fn(-i) called n times on the loop thread, as a coroutine calling a
    ctypes function does: no thread, the loop blocked meanwhile.  Seconds
    per call."""
    total = 0
    start = time.perf_counter()
    for i in range(n):
        total += fn(-i)
    elapsed = time.perf_counter() - start
    _check(total == n * (n - 1) // 2, f"{n} calls of abs returned {total}")
    return elapsed / n


async def _one_at_a_time(call: Call, n: int) -> float:
    """await call(-i), n times, one at a time.  Seconds per call."""
    total = 0
    start = time.perf_counter()
    for i in range(n):
        total += await call(-i)
    elapsed = time.perf_counter() - start
    _check(total == n * (n - 1) // 2, f"{n} calls of abs returned {total}")
    return elapsed / n


async def _gathered(call: Call, n: int) -> float:
    """gather of n calls, all made at once.  Seconds per call."""
    start = time.perf_counter()
    values = await asyncio.gather(*[call(-i) for i in range(n)])
    elapsed = time.perf_counter() - start
    _check(sum(values) == n * (n - 1) // 2,
           f"{n} calls of abs returned {sum(values)}")
    return elapsed / n


async def _blocking(call: Call, n: int, ms: int) -> float:
    """gather of n calls of fixture_block(ms).  Seconds in all."""
    start = time.perf_counter()
    values = await asyncio.gather(*[call(ms) for _ in range(n)])
    elapsed = time.perf_counter() - start
    _check(all(isinstance(v, int) and v >= 1 for v in values),
           "fixture_block returned something other than a count")
    return elapsed


def _loop_sample(executor: KeptExecutor,
                 measure: Callable[..., Awaitable[float]], *args: Any
                 ) -> Callable[[], float]:
    """One sample of measure(*args), on a fresh event loop whose default
    executor is executor."""
    def sample() -> float:
        async def main() -> float:
            return await measure(*args)
        return on_fresh_loop(main, executor)
    return sample


def _sizes(scale: float, *sizes: int) -> list[int]:
    return [max(1, round(n * scale)) for n in sizes]


def run(host: str, runs: int, scale: float = 1.0) -> list[Row]:
    """Measures the scenario; returns its rows."""
    abs_fn = _abs()
    threads = pool_threads(abs_fn.outrun_fn)
    default_threads = min(32, (os.cpu_count() or 1) + 4)
    default = KeptExecutor(max_workers=default_threads)
    rows: list[Row] = []
    try:
        sync_n, seq_n, gather_n, block_n = _sizes(
            scale, SYNC_N, SEQUENTIAL_N, GATHER_N, BLOCK_N)

        peer, ours = rotate([
            lambda: _sync_ctypes(abs_fn.ctypes_fn, sync_n),
            lambda: _sync_outrun(abs_fn.outrun_fn, sync_n),
        ], runs)
        rows.append(paired(f"abs() x{sync_n:,}, synchronous, f.call",
                           "ctypes direct", peer, ours, per="call"))
        rows[0].note = (
            f"median of {runs} runs each, the sides in turn, every "
            f"asynchronous run on a fresh event loop; abs() from "
            f"{libc_path()}; Outrun's pool: {threads} threads; "
            f"asyncio.to_thread: the default executor, {default_threads} "
            "threads")

        for label, measure, n in (
            (f"abs() x{seq_n:,}, one at a time", _one_at_a_time, seq_n),
            (f"{gather_n:,} abs() gathered", _gathered, gather_n),
        ):
            to_thread, on_loop, ours = rotate([
                _loop_sample(default, measure,
                             _to_thread(abs_fn.ctypes_fn), n),
                _loop_sample(default, _on_loop, abs_fn.ctypes_fn, n),
                _loop_sample(default, measure, _outrun(abs_fn.outrun_fn), n),
            ], runs)
            scenario = f"{label}, await f().future()"
            rows.append(paired(scenario, TO_THREAD, to_thread, ours,
                               goal=ASYNC_GOAL, per="call"))
            rows.append(paired(scenario, ON_LOOP, on_loop, ours,
                               per="call"))

        fixture, missing = fixture_path(host)
        if fixture is None:
            note = f"fixture_block() row skipped: {missing}"
            print(f"outrun bench: ffi: {note}", file=sys.stderr)
            rows[0].note += "; " + note
            return rows
        block = _block(fixture)
        seconds = BLOCK_MS / 1000
        ideal = math.ceil(block_n / threads) * seconds
        to_thread, ours = rotate([
            _loop_sample(default, _blocking, make(fn), block_n, BLOCK_MS)
            for make, fn in ((_to_thread, block.ctypes_fn),
                             (_outrun, block.outrun_fn))], runs)
        row = paired(f"{block_n:,} x fixture_block({BLOCK_MS} ms) gathered, "
                     "f().future()", TO_THREAD, to_thread, ours,
                     ideal=ideal)
        row.max_value = ideal / EFFICIENCY_GOAL
        assert row.peer_value is not None  # paired() sets it
        peer_ideal = math.ceil(block_n / default_threads) * seconds
        row.note = (
            f"efficiency ideal/actual, ideal ceil({block_n:,}/{threads}) x "
            f"{BLOCK_MS} ms = {ideal * 1e3:g} ms: outrun "
            f"{row.outrun_efficiency:.0%}; the peer on {default_threads} "
            f"threads cannot do better than {peer_ideal * 1e3:g} ms "
            f"({peer_ideal / row.peer_value:.0%} of its own ideal); "
            f"{fixture}; ctypes on the loop thread would take "
            f"{block_n * seconds * 1e3:g} ms and is not run")
        rows.append(row)
    finally:
        default.close()
    return rows
