"""Helpers of the Output suites (tests/python/test_output_*.py): running a
test's coroutine on a loop of each kind, making Outputs with given facts,
waiting for them to settle by counting loop turns, and reading their facts.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import pytest
from outrun import Output

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def _uvloop() -> asyncio.AbstractEventLoop:
    import uvloop

    return uvloop.new_event_loop()


# `pytestmark = LOOPS` runs every test of a module once per kind of loop; the
# test takes the factory as its `new_loop` argument.
LOOPS = pytest.mark.parametrize("new_loop", [
    pytest.param(asyncio.new_event_loop, id="asyncio"),
    pytest.param(_uvloop, id="uvloop", marks=pytest.mark.skipif(
        not HAVE_UVLOOP, reason="uvloop is not installed")),
])

# How many loop turns, and then seconds, a test waits for Outputs to settle
# before it calls them stuck.  Generous: only a hang should reach them.
TURNS = 10_000
DEADLINE = 60.0


def run(new_loop: LoopFactory, main: Callable[[], Awaitable[Any]],
        reports: list[dict[str, Any]] | None = None) -> Any:
    """Runs main() to the end on a new loop from new_loop and closes it.
    What reaches the loop's exception handler goes to reports (dropped if
    None)."""
    loop = new_loop()
    seen: list[dict[str, Any]] = [] if reports is None else reports
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        return loop.run_until_complete(main())
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def made(value: Any, known: bool = True, secret: bool = False,
         deps: Iterable[Any] = ()) -> Output:
    """A resolved Output with these facts (on the running loop)."""
    o = Output._pending()
    o._resolve(value, known=known, secret=secret, deps=tuple(deps))
    return o


def failed(exc: BaseException) -> Output:
    """A rejected Output (on the running loop)."""
    o = Output._pending()
    o._reject(exc)
    return o


def state(o: Output) -> str:
    return o._peek()[0]


def facts(o: Output) -> tuple[Any, bool, bool, set[Any]]:
    """(value, known, secret, deps) of a resolved Output."""
    st, value, known, secret, deps = o._peek()
    assert st == "resolved", (st, value)
    return value, known, secret, set(deps)


async def settle(*outputs: Output, turns: int = TURNS,
                 deadline: float = DEADLINE) -> int:
    """Lets the loop run until none of outputs is pending; returns how many
    turns that took.  Outputs settle within a few turns unless they wait
    on real work (a process, a pool thread), which a loaded machine can
    make take longer than any number of turns: past turns, the wait goes
    on in short sleeps up to deadline seconds.  Fails if they are still
    pending then."""
    end = time.monotonic() + deadline
    n = 0
    while not all(state(o) != "pending" for o in outputs):
        if n < turns:
            await asyncio.sleep(0)
        elif time.monotonic() < end:
            await asyncio.sleep(0.005)
        else:
            stuck = [o._peek() for o in outputs if state(o) == "pending"]
            raise AssertionError(
                f"{len(stuck)} Outputs still pending after {turns} loop "
                f"turns and {deadline} s")
        n += 1
    return n


async def settled(o: Output) -> tuple[Any, bool, bool, set[Any]]:
    """Waits for o and returns its facts (value, known, secret, deps)."""
    await settle(o)
    return facts(o)


async def error_of(o: Output) -> BaseException:
    """Waits for o, which must be rejected, and returns its exception."""
    await settle(o)
    assert state(o) == "rejected", o._peek()
    try:
        await o.future()
    except BaseException as exc:  # noqa: BLE001 - what the test inspects
        return exc
    raise AssertionError("future() of a rejected Output did not raise")


async def turns(n: int) -> None:
    """Lets the loop run n turns."""
    for _ in range(n):
        await asyncio.sleep(0)


async def later(value: Any, turns: int = 1) -> Any:
    """An awaitable of value that lets the loop run turns times first."""
    for _ in range(turns):
        await asyncio.sleep(0)
    return value
