"""Runtime: one run's loop, its tracked work and its shutdown."""

from __future__ import annotations

import asyncio

import pytest
from outrun._loop import Runtime


@pytest.fixture
def runtime():
    """A Runtime on a new loop; closed at the end if the test did not."""
    rt = Runtime(asyncio.new_event_loop())
    yield rt
    if not rt.loop.is_closed():
        rt.close()


def test_close_cancels_leftover_tasks_and_runs_their_cleanup(runtime,
                                                             leftover):
    loop = runtime.loop
    task = loop.create_task(leftover.wait_forever())
    loop.run_until_complete(asyncio.sleep(0))

    runtime.close()

    assert task.cancelled()
    assert leftover.events == ["cancelled", "cleanup"]
    assert loop.is_closed()


def test_close_finishes_async_generators(runtime):
    events: list[str] = []

    async def numbers():
        try:
            yield 1
            yield 2
        finally:
            events.append("generator finished")

    async def take_one():
        # Not closed here: the generator stays suspended.
        agen = numbers()
        return await agen.__anext__(), agen

    # _agen keeps the suspended generator alive until close().
    first, _agen = runtime.loop.run_until_complete(take_one())

    runtime.close()

    assert first == 1
    assert events == ["generator finished"]


def test_close_reports_a_task_that_fails_while_cancelled(runtime):
    reported = []
    loop = runtime.loop
    loop.set_exception_handler(lambda _loop, context: reported.append(
        context))

    async def fails_on_cancel():
        try:
            await asyncio.Event().wait()
        finally:
            raise OSError("cleanup failed")

    loop.create_task(fails_on_cancel())
    loop.run_until_complete(asyncio.sleep(0))

    runtime.close()

    assert len(reported) == 1
    assert isinstance(reported[0]["exception"], OSError)
    assert "cancelled at exit" in reported[0]["message"]


def test_track_and_wait_for_tracked(runtime):
    results: list[int] = []

    async def work(n: int) -> int:
        await asyncio.sleep(0)
        results.append(n)
        return n

    async def failing():
        await asyncio.sleep(0)
        raise KeyError("tracked")

    futures = [runtime.track(work(n)) for n in range(3)]
    failed = runtime.track(failing())
    assert len(runtime.tracked) == 4

    runtime.loop.run_until_complete(runtime.wait_for_tracked())

    assert sorted(results) == [0, 1, 2]
    assert [f.result() for f in futures] == [0, 1, 2]
    assert runtime.tracked == set()
    assert runtime.failed == [failed.exception()]


def test_a_stop_signal_before_the_main_task_waits_for_it():
    # A Ctrl-C that reached the run's handler before the main task existed
    # raised KeyboardInterrupt inside the SDK ("internal error", then -2 on
    # the second Ctrl-C); it is kept for the run to take instead.
    import signal

    from outrun import _loop

    loop = asyncio.new_event_loop()
    try:
        rt = _loop.Runtime(loop)
        rt._on_sigint(signal.SIGINT, None)
        assert (rt.pending_signal, rt.interrupted) == (signal.SIGINT, False)

        async def program():
            await asyncio.sleep(60)

        rt.main_task = loop.create_task(program())
        rt.take_pending_signal()
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(rt.main_task)
        assert (rt.interrupted, rt.signal) == (True, signal.SIGINT)
    finally:
        loop.close()
