"""An Output belongs to the loop that made it: another thread may read and
apply a settled one, but resolving or registering on a pending one from
another thread raises RuntimeError saying to use
loop.call_soon_threadsafe."""

from __future__ import annotations

import asyncio
import threading

import pytest
from output_support import LOOPS, made, run, settle, settled
from outrun import Output

pytestmark = LOOPS


def in_thread(fn):
    """Runs fn() on a new thread and returns its result or raises what it
    raised."""
    box = {}

    def body():
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back
            box["error"] = exc

    t = threading.Thread(target=body)
    t.start()
    t.join(60)
    assert not t.is_alive(), "the thread did not finish"
    if "error" in box:
        raise box["error"]
    return box.get("result")


def assert_says_call_soon_threadsafe(info):
    assert "call_soon_threadsafe" in str(info.value), str(info.value)


def test_resolving_a_pending_output_from_another_thread_raises(new_loop):
    async def main():
        p = Output._pending()
        for settle_it in (lambda: p._resolve(1), lambda: p._reject(
                ValueError("x"))):
            with pytest.raises(RuntimeError) as info:
                in_thread(settle_it)
            assert_says_call_soon_threadsafe(info)
        assert p._peek()[0] == "pending"
        # The right way works.
        asyncio.get_running_loop().call_soon_threadsafe(p._resolve, 2)
        assert (await settled(p))[0] == 2

    run(new_loop, main)


def test_registering_on_a_pending_output_from_another_thread_raises(
        new_loop):
    async def main():
        p = Output._pending()
        with pytest.raises(RuntimeError) as info:
            in_thread(lambda: p.apply(str))
        assert_says_call_soon_threadsafe(info)
        p._resolve(1)

    run(new_loop, main)


def test_registering_from_a_thread_with_its_own_loop_raises_too(new_loop):
    async def main():
        p = Output._pending()

        async def other():
            return p.apply(str)

        with pytest.raises(RuntimeError) as info:
            in_thread(lambda: run(new_loop, other))
        assert_says_call_soon_threadsafe(info)
        p._resolve(1)

    run(new_loop, main)


def test_a_settled_output_is_readable_from_another_thread(new_loop):
    async def main():
        o = made("v", secret=True, deps=["r"])
        r = Output._pending()
        r._reject(KeyError("k"))
        assert in_thread(o._peek) == o._peek()
        assert in_thread(r._peek)[0] == "rejected"

    run(new_loop, main)


def test_a_settled_output_is_usable_on_another_thread_s_loop(new_loop):
    async def main():
        o = made(20, secret=True, deps=["r"])

        async def other():
            derived = o.apply(lambda v: v + 1)
            combined = Output.all(o, derived)
            await settle(derived, combined)
            return (await o.future(), await derived.future(),
                    await combined.future(), await combined.is_secret(),
                    await combined.resources(), threading.get_ident())

        got = in_thread(lambda: run(new_loop, other))
        assert got[:5] == (20, 21, [20, 21], True, {"r"})
        assert got[5] != threading.get_ident()

    run(new_loop, main)


def test_an_output_made_on_another_thread_is_settled_there(new_loop):
    async def main():
        async def other():
            p = Output._pending()
            o = p.apply(lambda v: v * 2)
            p._resolve(4)
            await settle(o)
            return o

        o = in_thread(lambda: run(new_loop, other))
        # Settled: readable and usable here.
        assert o._peek()[:2] == ("resolved", 8)
        assert (await settled(o.apply(lambda v: v + 1)))[0] == 9

    run(new_loop, main)
