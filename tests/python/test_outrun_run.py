"""outrun.run and outrun.track from plain Python (and from `outrun python`,
which is plain Python as far as they can tell)."""

from __future__ import annotations

import asyncio
import gc
import signal
import warnings
import weakref

import outrun
import pytest
from outrun import _loop


async def _yield(times: int) -> None:
    """Lets the loop run other tasks a few times."""
    for _ in range(times):
        await asyncio.sleep(0)


def test_returns_what_main_returns():
    async def main():
        await _yield(2)
        return 42

    assert outrun.run(main) == 42


def test_takes_a_coroutine_too():
    async def main(value):
        await _yield(1)
        return value

    assert outrun.run(main("given")) == "given"


def test_main_runs_on_a_fresh_loop_that_is_closed_afterwards():
    seen = []

    async def main():
        seen.append(asyncio.get_running_loop())

    outrun.run(main)
    outrun.run(main)

    assert len(seen) == 2
    assert seen[0] is not seen[1]
    assert all(loop.is_closed() for loop in seen)


def test_propagates_main_exception():
    async def main():
        await _yield(1)
        raise ValueError("main failed")

    with pytest.raises(ValueError, match="main failed"):
        outrun.run(main)


def test_waits_for_tracked_work():
    done = []

    async def work(name):
        await _yield(3)
        done.append(name)

    async def main():
        outrun.track(work("first"))
        outrun.track(work("second"))
        return "main done"

    assert outrun.run(main) == "main done"
    assert sorted(done) == ["first", "second"]


def test_waits_for_work_tracked_by_tracked_work():
    done = []

    async def inner():
        await _yield(3)
        done.append("inner")

    async def outer():
        await _yield(1)
        outrun.track(inner())
        done.append("outer")

    async def main():
        outrun.track(outer())

    outrun.run(main)

    assert done == ["outer", "inner"]


def test_failing_tracked_work_fails_the_run():
    async def failing():
        await _yield(1)
        raise KeyError("tracked failure")

    async def main():
        outrun.track(failing())
        return "main done"

    with pytest.raises(KeyError, match="tracked failure"):
        outrun.run(main)


def test_every_failure_of_tracked_work_is_raised():
    async def failing(exc):
        await _yield(1)
        raise exc

    async def main():
        outrun.track(failing(KeyError("first")))
        outrun.track(failing(ValueError("second")))

    with pytest.raises(BaseExceptionGroup) as info:
        outrun.run(main)
    kinds = sorted(type(e).__name__ for e in info.value.exceptions)
    assert kinds == ["KeyError", "ValueError"]
    assert "2 pieces of tracked work failed" in str(info.value)


def test_track_returns_a_future_with_the_result():
    async def work():
        await _yield(1)
        return "tracked result"

    async def main():
        return await outrun.track(work())

    assert outrun.run(main) == "tracked result"


def test_track_outside_a_run_schedules_on_the_running_loop():
    async def work():
        return "scheduled"

    async def caller():
        fut = outrun.track(work())
        assert isinstance(fut, asyncio.Future)
        assert _loop.current() is None
        return await fut

    assert asyncio.run(caller()) == "scheduled"


def test_current_runtime_only_during_the_run():
    seen = []

    async def main():
        seen.append(_loop.current())

    assert _loop.current() is None
    outrun.run(main)

    assert isinstance(seen[0], _loop.Runtime)
    assert _loop.current() is None


def test_untracked_leftover_tasks_are_cancelled_at_the_end(leftover):
    # The loop holds its tasks only weakly: keep this one, or the garbage
    # collector may free it before the run ends.
    kept = []

    async def main():
        kept.append(asyncio.ensure_future(leftover.wait_forever()))
        await _yield(1)

    outrun.run(main)

    assert leftover.events == ["cancelled", "cleanup"]


def test_refuses_inside_a_running_loop():
    async def main():
        return "must not run"

    async def caller():
        with pytest.raises(RuntimeError, match="already running") as info:
            outrun.run(main)
        return str(info.value)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        message = asyncio.run(caller())
        gc.collect()

    assert "await main()" in message
    # The coroutine made from main was closed, not left unawaited.
    assert not [w for w in caught if "never awaited" in str(w.message)]


@pytest.mark.parametrize("main", [
    lambda: "a plain function",
    "not even callable",
    None,
])
def test_type_error_for_what_is_not_async(main):
    with pytest.raises(TypeError, match=r"async def main\(\)"):
        outrun.run(main)


@pytest.fixture
def sigint_handler():
    """sigint_handler(handler): sets SIGINT's handler for this test only."""
    previous = signal.getsignal(signal.SIGINT)
    yield lambda handler: signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize(("before", "replaced"), [
    (signal.default_int_handler, True),
    # Started with SIGINT ignored: python3 leaves it ignored, so does run.
    (signal.SIG_IGN, False),
])
def test_sigint_handler_during_the_run_and_after(sigint_handler, before,
                                                 replaced):
    sigint_handler(before)
    during = []

    async def main():
        during.append(signal.getsignal(signal.SIGINT))

    outrun.run(main)

    assert (during[0] is not before) is replaced
    assert signal.getsignal(signal.SIGINT) is before


def test_loop_and_runtime_are_freed_after_the_run():
    refs = []

    async def main():
        refs.append(weakref.ref(asyncio.get_running_loop()))
        refs.append(weakref.ref(_loop.current()))

    outrun.run(main)
    gc.collect()

    assert [r() for r in refs] == [None, None]
