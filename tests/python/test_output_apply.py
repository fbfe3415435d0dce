"""o.apply(fn, run_with_unknowns): every row of both tables in
docs/output.md (what happens for each kind of source, and what becomes of
each kind of result)."""

from __future__ import annotations

import asyncio
import traceback

import pytest
from output_support import (
    LOOPS,
    error_of,
    facts,
    failed,
    made,
    run,
    settle,
    settled,
    state,
)
from outrun import UNKNOWN, Output

pytestmark = LOOPS


class Recorder:
    """A function for apply that records what it was called with."""

    def __init__(self, result=None, *, returns_arg=False):
        self.calls: list = []
        self.result = result
        self.returns_arg = returns_arg

    def __call__(self, value):
        self.calls.append(value)
        return value if self.returns_arg else self.result


# What happens, by source -------------------------------------------------


@pytest.mark.parametrize("run_with_unknowns", [False, True])
def test_rejected_source_fn_not_called_same_exception(new_loop,
                                                      run_with_unknowns):
    async def main():
        exc = LookupError("source failed")
        fn = Recorder("never")
        o = failed(exc).apply(fn, run_with_unknowns=run_with_unknowns)
        assert await error_of(o) is exc
        assert fn.calls == []

    run(new_loop, main)


def test_unknown_source_fn_not_called_result_unknown(new_loop):
    async def main():
        fn = Recorder("never")
        src = made("preview", known=False, secret=True, deps=["r1", "r2"])
        o = src.apply(fn)
        assert await settled(o) == (None, False, True, {"r1", "r2"})
        assert fn.calls == []
        assert await o.future() is None
        assert await o.is_known() is False

    run(new_loop, main)


def test_unknown_source_run_with_unknowns_gets_unknown(new_loop):
    async def main():
        fn = Recorder("computed")
        src = made(None, known=False, secret=True, deps=["r"])
        o = src.apply(fn, run_with_unknowns=True)
        assert await settled(o) == ("computed", True, True, {"r"})
        assert fn.calls == [UNKNOWN]
        assert fn.calls[0] is UNKNOWN

    run(new_loop, main)


def test_unknown_source_whose_value_has_unknowns_passes_the_value(new_loop):
    async def main():
        value = {"a": 1, "b": [UNKNOWN]}
        fn = Recorder(returns_arg=True)
        src = made(value)
        o = src.apply(fn, run_with_unknowns=True)
        await settle(o)
        assert fn.calls == [value]
        assert fn.calls[0] is value
        # The value still holds UNKNOWN: the result is unknown too.
        assert facts(o)[:2] == (value, False)

    run(new_loop, main)


def test_unknown_source_run_with_unknowns_passed_positionally(new_loop):
    async def main():
        fn = Recorder(1)
        await settle(made(None, known=False).apply(fn, True))
        assert fn.calls == [UNKNOWN]

    run(new_loop, main)


@pytest.mark.parametrize("run_with_unknowns", [False, True])
def test_known_source_fn_gets_the_value(new_loop, run_with_unknowns):
    async def main():
        value = ["the", "value"]
        fn = Recorder("result")
        o = made(value, secret=True, deps=["r"]).apply(
            fn, run_with_unknowns=run_with_unknowns)
        assert await settled(o) == ("result", True, True, {"r"})
        assert len(fn.calls) == 1 and fn.calls[0] is value

    run(new_loop, main)


def test_fn_is_called_exactly_once(new_loop):
    async def main():
        fn = Recorder(1)
        src = made(0)
        o = src.apply(fn)
        await settle(o)
        await asyncio.sleep(0)
        await o.future()
        await o.future()
        assert fn.calls == [0]

    run(new_loop, main)


# What fn returns -----------------------------------------------------------


@pytest.mark.parametrize(("inner", "expected"), [
    # (value, known, secret, deps) of the Output fn returns, and the
    # result's for a source (known, not secret, deps {"src"}).
    (("v", True, False, ["in"]), ("v", True, False, {"src", "in"})),
    (("v", True, True, []), ("v", True, True, {"src"})),
    ((None, False, False, ["in"]), (None, False, False, {"src", "in"})),
    (([UNKNOWN], True, False, []), ([UNKNOWN], False, False, {"src"})),
])
def test_an_output_result_is_flattened(new_loop, inner, expected):
    async def main():
        value, known, secret, deps = inner
        o = made(1, deps=["src"]).apply(
            lambda _: made(value, known=known, secret=secret, deps=deps))
        assert await settled(o) == expected

    run(new_loop, main)


def test_an_output_result_keeps_the_source_secret(new_loop):
    async def main():
        o = made(1, secret=True).apply(lambda _: made("in"))
        assert await settled(o) == ("in", True, True, set())

    run(new_loop, main)


def test_a_pending_output_result_is_waited_for(new_loop):
    async def main():
        inner = Output._pending()
        o = made(1, deps=["src"]).apply(lambda _: inner)
        await settle(made(0).apply(lambda _: None))
        await asyncio.sleep(0)
        assert state(o) == "pending"
        inner._resolve("late", secret=True, deps=["in"])
        assert await settled(o) == ("late", True, True, {"src", "in"})

    run(new_loop, main)


def test_a_rejected_output_result_rejects(new_loop):
    async def main():
        exc = ValueError("inner failed")
        o = made(1).apply(lambda _: failed(exc))
        assert await error_of(o) is exc

    run(new_loop, main)


def test_an_output_of_an_output_result_is_flattened_all_the_way(new_loop):
    async def main():
        o = made(1).apply(lambda v: made(v + 1).apply(
            lambda w: made(w * 10, deps=["deep"])))
        assert await settled(o) == (20, True, False, {"deep"})

    run(new_loop, main)


@pytest.mark.parametrize("kind", ["coroutine", "future", "task"])
def test_an_awaitable_result_is_awaited(new_loop, kind):
    async def main():
        loop = asyncio.get_running_loop()

        async def compute(v):
            await asyncio.sleep(0)
            return v * 2

        def fn(v):
            if kind == "coroutine":
                return compute(v)
            if kind == "task":
                return asyncio.ensure_future(compute(v))
            fut = loop.create_future()
            loop.call_soon(fut.set_result, v * 2)
            return fut

        o = made(21, secret=True, deps=["r"]).apply(fn)
        assert await settled(o) == (42, True, True, {"r"})

    run(new_loop, main)


def test_an_awaitable_result_runs_in_a_task(new_loop):
    async def main():
        seen = []

        async def compute(v):
            seen.append(asyncio.current_task())
            return v

        o = made(1).apply(compute)
        await settle(o)
        assert len(seen) == 1 and isinstance(seen[0], asyncio.Task)

    run(new_loop, main)


def test_an_output_that_an_async_function_returns_is_flattened(new_loop):
    async def main():
        inner = made("inner", secret=True, deps=["in"])

        async def gives_an_output(_):
            return inner

        o = made(1, deps=["src"]).apply(gives_an_output)
        value, known, secret, deps = await settled(o)
        assert value == "inner"
        assert (known, secret, deps) == (True, True, {"src", "in"})
        # So concat and format over it see the string, not an Output.
        assert await Output.concat("<", o, ">").future() == "<inner>"
        assert await Output.format("[{}]", o).future() == "[inner]"

    run(new_loop, main)


def test_a_failing_awaitable_result_rejects(new_loop):
    async def main():
        async def fails(_):
            await asyncio.sleep(0)
            raise KeyError("async failure")

        exc = await error_of(made(1).apply(fails))
        assert type(exc) is KeyError

    run(new_loop, main)


def test_an_awaitable_result_with_unknowns_is_unknown(new_loop):
    async def main():
        async def gives(_):
            return {"a": UNKNOWN}

        o = made(1).apply(gives)
        assert (await settled(o))[:2] == ({"a": UNKNOWN}, False)

    run(new_loop, main)


@pytest.mark.parametrize("result", [None, 0, "", [], {}, (1, 2), Recorder])
def test_anything_else_is_the_value(new_loop, result):
    async def main():
        o = made("src", secret=True, deps=["r"]).apply(lambda _: result)
        value, known, secret, deps = await settled(o)
        assert value is result
        assert (known, secret, deps) == (True, True, {"r"})

    run(new_loop, main)


def test_a_plain_result_with_unknowns_is_unknown(new_loop):
    async def main():
        for result in ([UNKNOWN], {"a": {"b": [1, UNKNOWN]}}, UNKNOWN):
            o = made(1).apply(lambda _, r=result: r)
            assert (await settled(o))[:2] == (result, False)
        # Tuples are not looked into.
        t = made(1).apply(lambda _: (UNKNOWN,))
        assert (await settled(t))[1] is True

    run(new_loop, main)


def test_run_with_unknowns_can_give_a_known_result(new_loop):
    async def main():
        o = made(None, known=False).apply(lambda v: "default", True)
        assert (await settled(o))[:2] == ("default", True)

    run(new_loop, main)


def test_fn_raising_rejects_with_that_exception_and_its_traceback(new_loop):
    async def main():
        def explode(value):
            raise ValueError(f"explode on {value}")

        o = made(3).apply(explode)
        exc = await error_of(o)
        assert type(exc) is ValueError
        assert str(exc) == "explode on 3"
        names = [f.name for f in traceback.extract_tb(exc.__traceback__)]
        assert "explode" in names

    run(new_loop, main)


def test_a_rejection_propagates_down_a_chain(new_loop):
    async def main():
        calls = []
        exc = RuntimeError("first")

        def boom(_):
            raise exc

        o = made(1).apply(boom).apply(calls.append).apply(calls.append)
        assert await error_of(o) is exc
        assert calls == []

    run(new_loop, main)


def test_apply_on_a_pending_source_waits(new_loop):
    async def main():
        p = Output._pending()
        fn = Recorder(returns_arg=True)
        o = p.apply(fn)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert fn.calls == [] and state(o) == "pending"
        p._resolve("now", deps=["r"])
        assert await settled(o) == ("now", True, False, {"r"})
        assert fn.calls == ["now"]

    run(new_loop, main)


def test_apply_needs_a_callable(new_loop):
    async def main():
        # Either at once or as the result's rejection.
        try:
            o = made(1).apply(42)
        except TypeError:
            return
        assert type(await error_of(o)) is TypeError

    run(new_loop, main)


def test_many_applies_on_one_source(new_loop):
    async def main():
        src = Output._pending()
        results = [src.apply(lambda v, i=i: v + i) for i in range(50)]
        src._resolve(100)
        await settle(*results)
        assert [facts(o)[0] for o in results] == list(range(100, 150))

    run(new_loop, main)
