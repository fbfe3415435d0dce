"""outrun.offload, outrun.to_thread and outrun.blocking: Python callables
on the native pool, under asyncio and uvloop, inside and outside the host.
Tests count and compare; they never time."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import traceback

import _outrun
import outrun
import pytest
from outrun import Output
from output_support import LOOPS, error_of, run, settled

pytestmark = LOOPS

request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="unset")


def test_offload_runs_on_another_thread_and_resolves(new_loop):
    async def main():
        loop_thread = threading.get_ident()
        o = outrun.offload(lambda a, b=0: (threading.get_ident(), a + b),
                           2, b=3)
        assert isinstance(o, Output)
        (tid, total), known, secret, deps = await settled(o)
        assert tid != loop_thread
        assert (total, known, secret, deps) == (5, True, False, set())

    run(new_loop, main)


def test_offload_result_chains_like_any_output(new_loop):
    async def main():
        o = outrun.offload(str.upper, "abc").apply(lambda s: s + "!")
        assert await o.future() == "ABC!"

    run(new_loop, main)


def _fails_deep_inside():
    raise KeyError("from the worker")


def _calls_the_failing_one():
    _fails_deep_inside()


def test_an_exception_keeps_its_original_traceback(new_loop):
    async def main():
        exc = await error_of(outrun.offload(_calls_the_failing_one))
        assert isinstance(exc, KeyError)
        names = [f.name for f in traceback.extract_tb(exc.__traceback__)]
        assert names[-2:] == ["_calls_the_failing_one", "_fails_deep_inside"]

    run(new_loop, main)


def test_the_callers_context_variables_are_seen(new_loop):
    async def main():
        request_id.set("r-42")
        seen = await outrun.offload(request_id.get).future()
        assert seen == "r-42"
        # A change inside the call stays in the call's copy.
        await outrun.offload(request_id.set, "changed").future()
        assert request_id.get() == "r-42"

    run(new_loop, main)


def test_to_thread_is_a_drop_in_for_asyncio_to_thread(new_loop):
    async def main():
        got = await outrun.to_thread(lambda *a, **k: (a, k), 1, 2, x=3)
        assert got == ((1, 2), {"x": 3})
        with pytest.raises(ZeroDivisionError):
            await outrun.to_thread(lambda: 1 / 0)
        # It goes wherever asyncio.to_thread's coroutine goes.
        t = asyncio.create_task(outrun.to_thread(sum, [1, 2]))
        assert await t == 3
        assert await asyncio.wait_for(outrun.to_thread(max, 4, 5), 30) == 5
        call = outrun.to_thread(int, 7)
        assert asyncio.iscoroutine(call)
        assert await call == 7
        # A task around it cancels the call too.
        gate = threading.Event()
        t = asyncio.create_task(outrun.to_thread(gate.wait, 30))
        await asyncio.sleep(0)
        t.cancel()
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await t

    run(new_loop, main)


def test_many_concurrent_offloads_all_complete_once(new_loop):
    async def main():
        calls = []

        def record(i):
            calls.append(i)
            return i

        results = await asyncio.gather(*[outrun.to_thread(record, i)
                                         for i in range(2000)])
        assert results == list(range(2000))
        assert sorted(calls) == list(range(2000))

    run(new_loop, main)


def test_cancelling_before_start_skips_the_call(new_loop):
    async def main():
        gate = threading.Event()
        ran = []
        threads = _outrun.pool_stats()["threads"] if _outrun.pool_stats() \
            else None
        # Occupy every pool thread, then queue one more call and cancel it
        # while it waits.
        if threads is None:
            await outrun.to_thread(int)
            threads = _outrun.pool_stats()["threads"]
        blockers = [asyncio.ensure_future(outrun.to_thread(gate.wait, 30))
                    for _ in range(threads)]
        queued = asyncio.ensure_future(outrun.to_thread(ran.append, "ran"))
        await asyncio.sleep(0)
        queued.cancel()
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*blockers)
        with pytest.raises(asyncio.CancelledError):
            await queued
        await outrun.to_thread(int)  # everything queued before has run
        assert ran == []

    run(new_loop, main)


def test_cancelling_a_running_call_drops_its_result(new_loop):
    async def main():
        started, release, ended = (threading.Event(), threading.Event(),
                                   threading.Event())
        finished = []

        def work():
            started.set()
            release.wait(30)
            finished.append(True)
            ended.set()
            return "dropped"

        task = asyncio.ensure_future(outrun.to_thread(work))
        await outrun.to_thread(started.wait, 30)
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        await outrun.to_thread(ended.wait, 30)
        assert finished == [True]

    run(new_loop, main)


def test_blocking_decorator_returns_an_output(new_loop):
    @outrun.blocking
    def double(x: int) -> int:
        """Doubles x."""
        return 2 * x

    async def main():
        o = double(21)
        assert isinstance(o, Output)
        assert await o.future() == 42
        assert double.__name__ == "double"
        assert double.__doc__ == "Doubles x."

    run(new_loop, main)


def test_offload_without_a_running_loop_says_so(new_loop):
    with pytest.raises(RuntimeError, match="running asyncio event loop"):
        outrun.offload(int)


def test_offload_needs_a_callable(new_loop):
    async def main():
        with pytest.raises(TypeError, match="function to call"):
            outrun.offload(42)
        with pytest.raises(TypeError, match=r"offload\(fn"):
            _outrun.offload()

    run(new_loop, main)


def test_python_jobs_run_in_batches_under_one_gil_acquisition(new_loop):
    async def main():
        await outrun.to_thread(int)
        before = _outrun.pool_stats()
        await asyncio.gather(*[outrun.to_thread(int, i)
                               for i in range(3000)])
        after = _outrun.pool_stats()
        jobs = after["completed"] - before["completed"]
        batches = after["gil_batches"] - before["gil_batches"]
        assert jobs >= 3000
        assert batches < jobs

    run(new_loop, main)
