"""o.recover(fn): the same data if o resolves, fn(exc) through from_input
if it is rejected with an Exception."""

from __future__ import annotations

import asyncio

from output_support import (
    LOOPS,
    error_of,
    failed,
    made,
    run,
    settle,
    settled,
    state,
)
from outrun import Output

pytestmark = LOOPS


class Stop(BaseException):
    """Not an Exception: recover leaves it alone."""


def test_a_resolved_source_passes_through_and_fn_is_not_called(new_loop):
    async def main():
        calls = []
        for src in (made("v", secret=True, deps=["r"]),
                    made(None, known=False, deps=["u"])):
            o = src.recover(calls.append)
            assert await settled(o) == await settled(src)
        assert calls == []

    run(new_loop, main)


def test_a_rejected_source_gives_fn_s_result(new_loop):
    async def main():
        exc = ValueError("failed")
        seen = []

        def handle(e):
            seen.append(e)
            return "recovered"

        o = failed(exc).recover(handle)
        assert await settled(o) == ("recovered", True, False, set())
        assert seen == [exc] and seen[0] is exc

    run(new_loop, main)


def test_fn_s_result_goes_through_from_input(new_loop):
    async def main():
        async def later():
            await asyncio.sleep(0)
            return "async"

        o = failed(KeyError("k")).recover(
            lambda e: {"a": made(1, secret=True, deps=["r"]), "b": later()})
        assert await settled(o) == ({"a": 1, "b": "async"}, True, True,
                                    {"r"})

    run(new_loop, main)


def test_fn_returning_an_awaitable_is_awaited(new_loop):
    async def fallback(exc):
        await asyncio.sleep(0)
        return f"fallback after {type(exc).__name__}"

    async def main():
        o = failed(OSError("x")).recover(fallback)
        assert (await settled(o))[0] == "fallback after OSError"

    run(new_loop, main)


def test_fn_raising_rejects_with_its_exception(new_loop):
    async def main():
        again = RuntimeError("recover failed too")

        def handle(_):
            raise again

        assert await error_of(failed(ValueError("x")).recover(handle)) \
            is again

    run(new_loop, main)


def test_a_base_exception_is_not_recovered(new_loop):
    async def main():
        calls = []
        stop = Stop()
        o = failed(stop).recover(calls.append)
        assert await error_of(o) is stop
        assert calls == []

    run(new_loop, main)


def test_recover_waits_for_a_pending_source(new_loop):
    async def main():
        p = Output._pending()
        o = p.recover(lambda e: "recovered")
        await asyncio.sleep(0)
        assert state(o) == "pending"
        p._reject(ValueError("late"))
        assert (await settled(o))[0] == "recovered"

    run(new_loop, main)


def test_a_failure_down_a_chain_is_recovered_at_the_end(new_loop):
    async def main():
        def explode(_):
            raise ZeroDivisionError("deep")

        seen = []
        o = made(1).apply(explode).apply(str).recover(
            lambda e: seen.append(type(e)) or "ok")
        await settle(o)
        assert (await settled(o))[0] == "ok"
        assert seen == [ZeroDivisionError]

    run(new_loop, main)
