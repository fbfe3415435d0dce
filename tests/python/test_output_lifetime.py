"""Lifetime and reference counts: settled Outputs are freed as soon as
nothing refers to them, leave no cycles behind, give back the references
they held; chains of any length settle without recursion."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import textwrap
import threading
import weakref

import pytest
from output_support import (
    LOOPS,
    facts,
    failed,
    later,
    made,
    run,
    settle,
    turns,
)
from outrun import Output, deferred_output

pytestmark = LOOPS


def explode(_):
    raise ValueError("explode")


# Each pattern makes some Outputs (returned) from a value and a dependency,
# and holds them only through what it returns.
PATTERNS = {
    "from_input": lambda v, d: [Output.from_input(v)],
    "resolved": lambda v, d: [made(v, deps=[d])],
    "apply": lambda v, d: [made(v, deps=[d]).apply(lambda x: [x])],
    "apply chain": lambda v, d: [
        made(v, deps=[d]).apply(lambda x: x).apply(lambda x: (x,))],
    "apply returning an Output": lambda v, d: [
        made(v).apply(lambda x: made(x, deps=[d]))],
    "apply returning a coroutine": lambda v, d: [
        made(v, deps=[d]).apply(later)],
    "all": lambda v, d: [Output.all(made(v, deps=[d]), v)],
    "from_input deep": lambda v, d: [
        Output.from_input({"a": [made(v, deps=[d]), (v,)], "b": later(v)})],
    "concat": lambda v, d: [Output.concat("a", made("b", deps=[d]))],
    "format": lambda v, d: [Output.format("{}", made(v, deps=[d]))],
    "secret": lambda v, d: [Output.secret(made(v, deps=[d]))],
    "unsecret": lambda v, d: [Output.unsecret(made(v, deps=[d]))],
    "lifting": lambda v, d: [made({"k": v}, deps=[d])["k"]],
    "json": lambda v, d: [Output.json_dumps({"a": made(1, deps=[d])})],
    "recover": lambda v, d: [
        made(v, deps=[d]).apply(explode).recover(lambda e: v)],
    "deferred": lambda v, d: _deferred(v, d),
    "source with a continuation that refers to it": lambda v, d: _self_ref(
        v, d),
}


def _deferred(v, d):
    out, resolve = deferred_output()
    resolve(made(v, deps=[d]))
    return [out]


def _self_ref(v, d):
    src = made(v, deps=[d])
    return [src, src.apply(lambda x: src)]


PLAIN = {"from_input", "resolved", "apply", "apply chain",
         "apply returning an Output", "all", "concat", "format", "secret",
         "unsecret", "lifting", "deferred",
         "source with a continuation that refers to it"}


@pytest.mark.parametrize("name", PATTERNS)
def test_settled_outputs_are_freed(new_loop, name):
    async def main():
        outs = PATTERNS[name](object(), "dep")
        await settle(*outs)
        await turns(2)
        refs = [weakref.ref(o) for o in outs]
        del outs
        if name in PLAIN:
            # Reference counting alone frees them.
            assert [r() for r in refs] == [None] * len(refs)
        gc.collect()
        assert [r() for r in refs] == [None] * len(refs)

    run(new_loop, main)


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_no_cycles_are_left_behind(new_loop, name):
    async def main():
        # Outputs used on this loop first: what an earlier loop left behind
        # is garbage by now (see test_a_closed_loop_is_not_kept_alive).
        await settle(made(0).apply(str))
        gc.collect()
        gc.disable()
        try:
            outs = PATTERNS[name](object(), "dep")
            await settle(*outs)
            await turns(2)
            del outs
            assert gc.collect() == 0
            assert gc.garbage == []
        finally:
            gc.enable()

    run(new_loop, main)


@pytest.mark.parametrize("name", PATTERNS)
def test_references_to_values_and_dependencies_are_given_back(new_loop,
                                                              name):
    async def main():
        value, dep = object(), object()
        base = sys.getrefcount(value), sys.getrefcount(dep)
        outs = PATTERNS[name](value, dep)
        await settle(*outs)
        await turns(2)
        del outs
        gc.collect()
        assert (sys.getrefcount(value), sys.getrefcount(dep)) == base

    run(new_loop, main)


def test_references_to_an_exception_are_given_back(new_loop):
    reports = []

    async def main():
        exc = LookupError("held")
        base = sys.getrefcount(exc)
        o = failed(exc)
        derived = [o.apply(str), Output.all(o), o.recover(lambda e: 1)]
        await settle(o, *derived)
        await turns(2)
        del o, derived
        gc.collect()
        reports.clear()
        assert sys.getrefcount(exc) == base

    run(new_loop, main, reports)


def _loop_that_used_outputs(new_loop) -> weakref.ref:
    async def main():
        await settle(made(1).apply(str))
        return weakref.ref(asyncio.get_running_loop())

    return run(new_loop, main)


def test_a_closed_loop_is_not_kept_alive(new_loop):
    loop = _loop_that_used_outputs(new_loop)
    gc.collect()
    assert loop() is None


def test_a_closed_loop_of_a_finished_thread_is_not_kept_alive(new_loop):
    loops = []
    for _ in range(3):
        t = threading.Thread(
            target=lambda: loops.append(_loop_that_used_outputs(new_loop)))
        t.start()
        t.join(60)
    gc.collect()
    assert [r() for r in loops] == [None] * 3


def test_a_pending_output_in_a_cycle_is_collected(new_loop):
    async def main():
        def cycle():
            # p refers to its continuation, whose function refers to p.
            p = Output._pending()
            derived = p.apply(lambda x: p)
            return [weakref.ref(p), weakref.ref(derived)]

        refs = cycle()
        gc.collect()
        assert [r() for r in refs] == [None, None]

    run(new_loop, main)


def test_a_long_chain_frees_its_settled_intermediates(new_loop):
    async def main():
        root = Output._pending()
        o = root
        refs = []
        for _ in range(1000):
            o = o.apply(lambda v: v + 1)
            refs.append(weakref.ref(o))
        root._resolve(0)
        await o.future()
        await turns(2)
        # The root and the last link are still referred to; every link in
        # between has settled and is referred to by nothing.
        alive = [r for r in refs[:-1] if r() is not None]
        assert alive == []
        assert facts(o)[0] == 1000

    run(new_loop, main)


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


N = 100_000


def _low_recursion_limit():
    """A recursion limit just above the current depth (at least 200): any
    recursion per link of a chain would pass it."""
    return max(200, _stack_depth() + 100)


@pytest.mark.parametrize("source", ["pending", "resolved"])
def test_a_chain_of_100000_applies_settles_without_recursion(new_loop,
                                                             source):
    async def main():
        root = Output._pending()
        if source == "resolved":
            root._resolve(0)
        o = root
        for _ in range(N):
            o = o.apply(lambda v: v + 1)
        previous = sys.getrecursionlimit()
        sys.setrecursionlimit(_low_recursion_limit())
        try:
            if source == "pending":
                root._resolve(0)
            result = await o.future()
        finally:
            sys.setrecursionlimit(previous)
        assert result == N

    run(new_loop, main)


def test_a_chain_of_100000_flattened_outputs(new_loop):
    async def main():
        root = Output._pending()
        o = root
        for _ in range(N):
            o = made(None).apply(lambda _, prev=o: prev)
        previous = sys.getrecursionlimit()
        sys.setrecursionlimit(_low_recursion_limit())
        try:
            root._resolve("end", deps=["r"])
            result = await o.future()
            deps = await o.resources()
        finally:
            sys.setrecursionlimit(previous)
        assert (result, deps) == ("end", {"r"})

    run(new_loop, main)


def test_a_chain_of_100000_deferred_outputs(new_loop):
    async def main():
        first, resolve = deferred_output()
        for _ in range(N):
            nxt, resolve_next = deferred_output()
            resolve(nxt)
            resolve = resolve_next
        previous = sys.getrecursionlimit()
        sys.setrecursionlimit(_low_recursion_limit())
        try:
            resolve(made("end"))
            result = await first.future()
        finally:
            sys.setrecursionlimit(previous)
        assert result == "end"

    run(new_loop, main)


# Freeing a long chain that never settled is run in a child process: a
# recursive free would crash it, and must not take the suite down.
FREE_PENDING_CHAIN = textwrap.dedent("""
    import asyncio, gc, sys
    from outrun import Output

    async def main():
        root = Output._pending()
        o = root
        for _ in range({n}):
            o = o.apply(lambda v: v + 1)
        del o, root
        gc.collect()
        print("freed")

    loop = {loop}
    loop.run_until_complete(main())
    loop.close()
""")


def test_freeing_a_pending_chain_of_100000_does_not_recurse(new_loop):
    loop = ("asyncio.new_event_loop()" if new_loop is asyncio.new_event_loop
            else "__import__('uvloop').new_event_loop()")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run(
        [sys.executable, "-c", FREE_PENDING_CHAIN.format(n=N, loop=loop)],
        capture_output=True, text=True, timeout=120, env=env, check=False)
    assert (proc.returncode, proc.stdout) == (0, "freed\n"), proc.stderr
