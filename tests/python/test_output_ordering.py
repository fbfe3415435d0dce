"""When functions given to apply run: never inside apply (or inside
_resolve), on the loop thread, in registration order, on the loop's next
turn; only a function that returns an awaitable gets a Task.  Counted with
lists, never timed."""

from __future__ import annotations

import asyncio
import threading

from output_support import LOOPS, facts, made, run, settle, state
from outrun import Output

pytestmark = LOOPS


def test_fn_never_runs_inside_apply(new_loop):
    async def main():
        log = []
        o = made(1).apply(lambda v: log.append("fn"))
        log.append("after apply")
        await settle(o)
        assert log == ["after apply", "fn"]

    run(new_loop, main)


def test_fn_never_runs_inside_resolve(new_loop):
    async def main():
        log = []
        p = Output._pending()
        o = p.apply(lambda v: log.append("fn"))
        p._resolve(1)
        log.append("after resolve")
        await settle(o)
        assert log == ["after resolve", "fn"]

    run(new_loop, main)


def test_fn_on_a_resolved_source_runs_on_the_next_turn(new_loop):
    async def main():
        log = []
        made(1).apply(log.append)
        assert log == []
        await asyncio.sleep(0)
        assert log == [1]

    run(new_loop, main)


def test_fn_on_a_source_resolved_now_runs_on_the_next_turn(new_loop):
    async def main():
        log = []
        p = Output._pending()
        p.apply(log.append)
        p._resolve(2)
        assert log == []
        await asyncio.sleep(0)
        assert log == [2]

    run(new_loop, main)


def test_functions_run_in_registration_order(new_loop):
    async def main():
        log = []
        a, b = made("a"), made("b")
        p = Output._pending()
        outs = [
            a.apply(lambda v: log.append("a1")),
            p.apply(lambda v: log.append("p1")),
            b.apply(lambda v: log.append("b1")),
            a.apply(lambda v: log.append("a2")),
            p.apply(lambda v: log.append("p2")),
        ]
        await settle(*outs[:1], outs[2], outs[3])
        assert log == ["a1", "b1", "a2"]
        p._resolve("p")
        await settle(*outs)
        assert log == ["a1", "b1", "a2", "p1", "p2"]

    run(new_loop, main)


def test_continuations_of_one_source_run_in_registration_order(new_loop):
    async def main():
        log = []
        p = Output._pending()
        outs = [p.apply(lambda v, i=i: log.append(i)) for i in range(100)]
        p._resolve(None)
        await settle(*outs)
        assert log == list(range(100))

    run(new_loop, main)


def test_functions_run_on_the_loop_thread(new_loop):
    async def main():
        threads = []
        o = made(1).apply(lambda v: threads.append(threading.get_ident()))
        p = Output._pending()
        q = p.apply(lambda v: threads.append(threading.get_ident()))
        p._resolve(1)
        await settle(o, q)
        assert threads == [threading.get_ident()] * 2

    run(new_loop, main)


def test_fn_registered_by_fn_runs_later(new_loop):
    async def main():
        log = []

        def outer(v):
            log.append("outer start")
            made(v).apply(lambda w: log.append("inner"))
            log.append("outer end")

        o = made(1).apply(outer)
        await settle(o)
        for _ in range(3):
            await asyncio.sleep(0)
        assert log == ["outer start", "outer end", "inner"]

    run(new_loop, main)


def _new_tasks(before: set) -> set:
    return asyncio.all_tasks() - before


def test_plain_results_chain_without_tasks(new_loop):
    async def main():
        before = asyncio.all_tasks()
        created = set()
        p = Output._pending()
        o = p
        for _ in range(50):
            o = o.apply(lambda v: v + 1)
        o = o.apply(lambda v: made(v)).apply(lambda v: v * 2)
        p._resolve(0)
        while state(o) == "pending":
            created |= _new_tasks(before)
            await asyncio.sleep(0)
        assert facts(o)[0] == 100
        assert created == set()

    run(new_loop, main)


def test_only_an_awaitable_result_gets_a_task(new_loop):
    async def main():
        before = asyncio.all_tasks()
        gate = asyncio.Event()

        async def waits(v):
            await gate.wait()
            return v

        outs = [made(1).apply(lambda v: v), made(2).apply(waits),
                made(3).apply(lambda v: v)]
        for _ in range(3):
            await asyncio.sleep(0)
        assert len(_new_tasks(before)) == 1
        gate.set()
        await settle(*outs)
        assert [facts(o)[0] for o in outs] == [1, 2, 3]

    run(new_loop, main)


def test_a_task_of_an_awaitable_is_not_left_behind(new_loop):
    async def main():
        before = asyncio.all_tasks()

        async def quick(v):
            return v

        o = made(1).apply(quick)
        await settle(o)
        await asyncio.sleep(0)
        assert _new_tasks(before) == set()

    run(new_loop, main)
