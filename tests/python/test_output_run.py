"""Outputs and the end of a run (outrun.run from plain Python): the run
waits for every pending Output the program created and for nothing else;
a failing apply fails it unless recovered.  From plain asyncio, a rejection
nobody retrieved reaches the loop's exception handler when the Output is
freed."""

from __future__ import annotations

import ast
import asyncio
import gc

import outrun
import pytest
from output_support import LOOPS, later, made, run, turns
from outrun import Output, deferred_output


def explode(value):
    raise ValueError(f"explode on {value}")


def test_waits_for_an_output_of_an_awaitable():
    seen = []

    async def main():
        Output.from_input(later("slow", turns=5)).apply(seen.append)

    outrun.run(main)
    assert seen == ["slow"]


def test_waits_for_outputs_made_inside_applies():
    seen = []

    async def main():
        def outer(v):
            Output.from_input(later(v + 1, turns=5)).apply(seen.append)

        Output.from_input(later(1, turns=5)).apply(outer)

    outrun.run(main)
    assert seen == [2]


def test_waits_for_a_deferred_output_resolved_later():
    seen = []

    async def main():
        out, resolve = deferred_output()
        out.apply(seen.append)

        async def resolves():
            await later(None, turns=5)
            resolve(made("deferred"))

        outrun.track(resolves())

    outrun.run(main)
    assert seen == ["deferred"]


def test_does_not_wait_for_an_unrelated_task(leftover):
    seen = []
    # Held here: a task nothing refers to may be collected before the end.
    tasks = []

    async def main():
        tasks.append(asyncio.ensure_future(leftover.wait_forever()))
        Output.from_input(later("output", turns=5)).apply(seen.append)

    outrun.run(main)
    assert seen == ["output"]
    assert leftover.events == ["cancelled", "cleanup"]


def test_an_unused_failing_apply_fails_the_run():
    async def main():
        made(1).apply(explode)

    with pytest.raises(ValueError, match="explode on 1"):
        outrun.run(main)


def test_a_failure_down_a_chain_is_raised_once():
    async def main():
        made(1).apply(explode).apply(str).apply(len)

    with pytest.raises(ValueError, match="explode on 1"):
        outrun.run(main)


def test_a_failing_awaited_input_fails_the_run():
    async def fails():
        await asyncio.sleep(0)
        raise LookupError("input failed")

    async def main():
        Output.from_input({"a": fails()})

    with pytest.raises(LookupError, match="input failed"):
        outrun.run(main)


def test_a_recovered_failure_does_not_fail_the_run():
    seen = []

    async def main():
        made(1).apply(explode).recover(
            lambda exc: f"recovered {exc}").apply(seen.append)
        return "main done"

    assert outrun.run(main) == "main done"
    assert seen == ["recovered explode on 1"]


def test_a_failure_caught_from_future_belongs_to_the_code_that_caught_it():
    async def main():
        o = made(1).apply(explode)
        with pytest.raises(ValueError):
            await o.future()
        return "handled"

    # Retrieved and caught, as with an asyncio Future: the run succeeds.
    assert outrun.run(main) == "handled"


# From plain asyncio ----------------------------------------------------------


@LOOPS
def test_an_unretrieved_rejection_is_reported_when_freed(new_loop):
    reports = []

    async def main():
        o = made(1).apply(explode)
        await turns(5)
        del o
        gc.collect()
        await turns(1)

    run(new_loop, main, reports)
    errors = [c.get("exception") for c in reports]
    assert any(isinstance(e, ValueError) and str(e) == "explode on 1"
               for e in errors), reports


@LOOPS
def test_a_retrieved_or_recovered_rejection_is_not_reported(new_loop):
    reports = []

    async def main():
        retrieved = made(1).apply(explode)
        with pytest.raises(ValueError):
            await retrieved.future()
        recovered = made(2).apply(explode).recover(lambda exc: None)
        await recovered.future()
        del retrieved, recovered
        gc.collect()
        await turns(1)

    run(new_loop, main, reports)
    assert reports == []


@LOOPS
def test_a_rejection_retrieved_through_the_result_is_not_reported_again(
        new_loop):
    reports = []

    async def main():
        a, b = Output._pending(), Output._pending()
        a._reject(LookupError("a"))
        b._reject(LookupError("b"))
        o = Output.from_input([a, [b]])
        for retrieved in (o, a, b):
            with pytest.raises(LookupError):
                await retrieved.future()
        del o, a, b, retrieved
        gc.collect()
        await turns(1)

    run(new_loop, main, reports)
    assert reports == []



def _drain_once():
    """Runs a loop that settles one Output: a scheduler drain, the safe
    point where rejections freed without a loop are reported."""
    async def main():
        return await made(1).apply(str).future()

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(main()) == "1"
    finally:
        loop.close()


def _closed_loop_rejections(n):
    """n rejected Outputs, unretrieved, whose loop is closed."""
    loop = asyncio.new_event_loop()
    holder = []

    async def main():
        holder.extend(made(i).apply(explode) for i in range(n))
        await turns(3)

    loop.run_until_complete(main())
    loop.close()
    return holder


def test_a_rejection_freed_after_its_loop_closed_reaches_unraisablehook(
        monkeypatch):
    seen = []
    monkeypatch.setattr("sys.unraisablehook", seen.append)
    holder = _closed_loop_rejections(1)
    del holder[:]
    gc.collect()
    _drain_once()
    assert len(seen) == 1, seen
    assert isinstance(seen[0].exc_value, ValueError)
    assert "explode on 1" not in str(seen[0].exc_value)
    assert "explode on 0" in str(seen[0].exc_value)
    assert "Output rejected" in repr(seen[0].object)


def test_reporting_a_freed_rejection_never_runs_inside_a_collection(
        monkeypatch):
    # The report formats a traceback, and 3.11's traceback module parses
    # source with ast; a report made by a finalizer that a collection ran
    # inside ast.parse re-entered the AST converter and broke it
    # ("SystemError: AST constructor recursion depth mismatch").
    seen = []

    def hook(unraisable):
        ast.parse("x = (1 +\n     2)")
        seen.append(unraisable)

    monkeypatch.setattr("sys.unraisablehook", hook)
    holder = _closed_loop_rejections(20)
    gc.collect()  # other tests' garbage: only these Outputs are left
    for o in holder:
        cycle = [o]
        cycle.append(cycle)  # freed only by a collection
    del holder[:], cycle, o
    source = "\n".join(f"def f{i}(a, b):\n    return [a + b * {i}]"
                       for i in range(300))
    old = gc.get_threshold()
    gc.set_threshold(1, 1, 1)  # collections inside the parse below
    try:
        ast.parse(source)
    finally:
        gc.set_threshold(*old)
    gc.collect()
    _drain_once()
    assert len(seen) == 20
