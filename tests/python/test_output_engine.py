"""The engine's side: Output._pending(), _resolve and _reject exactly once,
_peek, and outrun.deferred_output()."""

from __future__ import annotations

import asyncio

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
from outrun import UNKNOWN, Output, deferred_output

pytestmark = LOOPS


def test_pending_needs_a_running_loop(new_loop):
    with pytest.raises(RuntimeError):
        Output._pending()


def test_peek_of_each_state(new_loop):
    async def main():
        p = Output._pending()
        assert p._peek()[0] == "pending"
        p._resolve("v", known=True, secret=True, deps=["a", "b"])
        st, value, known, secret, deps = p._peek()
        assert (st, value, known, secret, set(deps)) == (
            "resolved", "v", True, True, {"a", "b"})
        r = Output._pending()
        r._reject(ValueError("x"))
        assert r._peek()[0] == "rejected"

    run(new_loop, main)


def test_resolve_defaults(new_loop):
    async def main():
        p = Output._pending()
        p._resolve(3)
        assert facts(p) == (3, True, False, set())

    run(new_loop, main)


def test_deps_are_any_hashable_objects(new_loop):
    async def main():
        class Resource:
            pass

        r = Resource()
        o = made(1, deps=[r, "name", ("tuple", 1), r])
        assert facts(o)[3] == {r, "name", ("tuple", 1)}
        assert await o.resources() == {r, "name", ("tuple", 1)}
        assert isinstance(await o.resources(), set)

    run(new_loop, main)


def test_queries_of_a_resolved_output(new_loop):
    async def main():
        o = made(["v"], known=True, secret=True, deps=["r"])
        assert await o.future() == ["v"]
        assert await o.future(with_unknowns=True) == ["v"]
        assert await o.is_known() is True
        assert await o.is_secret() is True
        assert await o.resources() == {"r"}

    run(new_loop, main)


def test_queries_of_a_rejected_output_raise(new_loop):
    async def main():
        exc = ValueError("rejected")
        o = failed(exc)
        for query in (o.future, o.is_known, o.is_secret, o.resources):
            with pytest.raises(ValueError) as info:
                await query()
            assert info.value is exc

    run(new_loop, main)


def test_queries_wait_for_a_pending_output(new_loop):
    async def main():
        p = Output._pending()
        waiter = asyncio.ensure_future(p.future())
        await asyncio.sleep(0)
        assert not waiter.done()
        p._resolve("late")
        assert await waiter == "late"

    run(new_loop, main)


SETTLE = {
    "resolve": lambda o: o._resolve(1),
    "resolve unknown": lambda o: o._resolve(None, known=False),
    "reject": lambda o: o._reject(ValueError("x")),
}


@pytest.mark.parametrize("first", SETTLE)
@pytest.mark.parametrize("second", SETTLE)
def test_settles_exactly_once(new_loop, first, second):
    async def main():
        p = Output._pending()
        SETTLE[first](p)
        before = p._peek()
        with pytest.raises(Exception):  # noqa: B017 - any error
            SETTLE[second](p)
        after = p._peek()
        assert after[0] == before[0]
        assert after[1:] == before[1:] or before[0] == "rejected"

    run(new_loop, main)


def test_a_second_resolve_does_not_run_functions_again(new_loop):
    async def main():
        calls = []
        p = Output._pending()
        o = p.apply(calls.append)
        p._resolve(1)
        with pytest.raises(Exception):  # noqa: B017 - any error
            p._resolve(2)
        await settle(o)
        await asyncio.sleep(0)
        assert calls == [1]

    run(new_loop, main)


def test_reject_keeps_the_exception_object(new_loop):
    async def main():
        exc = LookupError("kept")
        assert await error_of(failed(exc)) is exc

    run(new_loop, main)


# deferred_output -----------------------------------------------------------


def test_deferred_output_follows_what_it_is_resolved_with(new_loop):
    async def main():
        out, resolve = deferred_output()
        assert isinstance(out, Output)
        assert callable(resolve)
        applied = out.apply(lambda v: v * 2)
        await asyncio.sleep(0)
        assert state(out) == "pending"
        resolve(made(21, secret=True, deps=["r"]))
        assert await settled(out) == (21, True, True, {"r"})
        assert await settled(applied) == (42, True, True, {"r"})

    run(new_loop, main)


def test_deferred_output_follows_a_pending_output(new_loop):
    async def main():
        out, resolve = deferred_output()
        p = Output._pending()
        resolve(p)
        await asyncio.sleep(0)
        assert state(out) == "pending"
        p._resolve(None, known=False, deps=["u"])
        assert await settled(out) == (None, False, False, {"u"})

    run(new_loop, main)


def test_deferred_output_follows_a_rejection(new_loop):
    async def main():
        out, resolve = deferred_output()
        exc = OSError("followed")
        resolve(failed(exc))
        assert await error_of(out) is exc

    run(new_loop, main)


def test_deferred_output_follows_unknowns_inside(new_loop):
    async def main():
        out, resolve = deferred_output()
        resolve(made([UNKNOWN]))
        assert (await settled(out))[:2] == ([UNKNOWN], False)

    run(new_loop, main)


def test_deferred_output_resolved_twice_raises(new_loop):
    async def main():
        out, resolve = deferred_output()
        resolve(made(1))
        with pytest.raises(Exception):  # noqa: B017 - any error
            resolve(made(2))
        assert (await settled(out))[0] == 1

    run(new_loop, main)


def test_a_deferred_output_resolved_with_itself_stays_pending(new_loop):
    async def main():
        out, resolve = deferred_output()
        resolve(out)
        for _ in range(10):
            await asyncio.sleep(0)
        assert state(out) == "pending"

    run(new_loop, main)


def test_a_cycle_through_an_apply_stays_pending(new_loop):
    async def main():
        out, resolve = deferred_output()
        resolve(out.apply(lambda v: v))
        for _ in range(10):
            await asyncio.sleep(0)
        assert state(out) == "pending"

    run(new_loop, main)
