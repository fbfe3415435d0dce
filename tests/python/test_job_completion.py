"""Every job completes exactly once, on its failure paths too: a result or
an exception that cannot be built, a future that refuses its result, a pool
thread without a thread state.  And nothing uses a loop that a weak
reference handed out after Python code has run and dropped it.

Faults with no natural trigger (memory running out) are injected with
_outrun._testing_fail.  A case that crashed the interpreter before its fix
runs in a child process, so that it fails its test instead of taking the
suite down; each child has a deadline."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap

import _outrun
import outrun
import pytest
from output_support import LOOPS, error_of, run

pytestmark = LOOPS

FIXTURE = os.environ.get("OUTRUN_FFI_FIXTURE")

# A deadline for what must finish at once: only a hang reaches it.
DEADLINE = 30


def _child(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs code in a fresh interpreter with this one's sys.path."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
        text=True, timeout=120, env=full_env, check=False)


@pytest.fixture
def inject():
    """_outrun._testing_fail, reset after the test."""
    yield _outrun._testing_fail
    _outrun._testing_fail("result", 0)
    _outrun._testing_fail("thread_state", 0)


def test_a_process_result_that_cannot_be_built_rejects_it(new_loop, inject):
    async def main():
        inject("result", 1)
        exc = await error_of(_outrun.spawn(["true"]))
        assert isinstance(exc, MemoryError)
        assert "cannot build the job's result" in str(exc)
        # Through outrun.process.run, and only once: the next one works.
        r = await outrun.process.run(["echo", "ok"]).future()
        assert r.stdout == "ok\n"

    run(new_loop, main)


def test_a_foreign_call_result_that_cannot_be_built_rejects_it(new_loop,
                                                               inject):
    fx = outrun.ffi.load(FIXTURE)
    noop = fx.function("fixture_noop", "void", [])

    async def main():
        inject("result", 1)
        exc = await error_of(noop())
        assert isinstance(exc, MemoryError)
        assert await noop().future() is None

    run(new_loop, main)


def test_a_future_that_refuses_the_result_gets_the_error(new_loop):
    class RefusingFuture(asyncio.Future):
        def set_result(self, result):
            raise ValueError(f"refused {result!r}")

    async def main():
        fut = RefusingFuture(loop=asyncio.get_running_loop())
        assert _outrun.call_into(fut, int, 7) is fut
        done, _ = await asyncio.wait([fut], timeout=DEADLINE)
        assert done, "the future never completed"
        with pytest.raises(ValueError, match="refused 7"):
            fut.result()

    run(new_loop, main)


ENV_ITEMS = """
    import asyncio, os
    from collections.abc import Mapping
    import _outrun

    class ListItems(dict):
        def items(self):
            return [[k, v] for k, v in super().items()]

    class TripleItems(dict):
        def items(self):
            return [(k, v, "extra") for k, v in super().items()]

    class FailingItems(Mapping):
        def __getitem__(self, key):
            raise KeyError(key)
        def __iter__(self):
            return iter(())
        def __len__(self):
            return 0
        def items(self):
            raise LookupError("items() failed")

    class GoodItems(dict):
        def items(self):
            return [(k, v) for k, v in super().items()]

    async def main():
        for env in (ListItems(A="1"), TripleItems(A="1"), FailingItems()):
            try:
                _outrun.spawn(["true"], env=env)
            except (TypeError, LookupError) as exc:
                print(type(exc).__name__, exc)
        r = await _outrun.spawn(
            ["/bin/sh", "-c", "echo $A"],
            env=GoodItems(A="good", PATH=os.environ["PATH"])).future()
        print(r["stdout"].decode().strip())

    asyncio.run(main())
"""


def test_env_items_must_be_name_value_pairs(new_loop):
    proc = _child(ENV_ITEMS)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "TypeError env: items() must give (name, value) pairs, not list",
        "TypeError env: items() must give (name, value) pairs, not tuple "
        "of another length",
        "LookupError items() failed",
        "good",
    ]


NO_THREAD_STATE = """
    import asyncio
    import _outrun, outrun

    async def main():
        _outrun._testing_fail("thread_state", 1)
        try:
            await outrun.offload(int, 7).future()
        except MemoryError as exc:
            print("offload:", type(exc).__name__)
        _outrun._testing_fail("thread_state", 1)
        try:
            await outrun.to_thread(int, 8)
        except MemoryError as exc:
            print("to_thread:", type(exc).__name__)
        # The thread tries again at its next job.
        print(await outrun.offload(int, 9).future())

    asyncio.run(asyncio.wait_for(main(), 60))
"""


def test_a_pool_thread_without_a_thread_state_fails_its_jobs(new_loop):
    # One thread, started in the child: its first Python job is the one
    # whose thread state cannot be made.
    proc = _child(NO_THREAD_STATE, OUTRUN_THREADS="1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "offload: MemoryError", "to_thread: MemoryError", "9"]


# The loops below are stand-ins set as the running loop, whose methods
# drop every other reference to them.  The scheduler holds its loop
# weakly; what it took from the weak reference must keep the loop alive
# until it is done with it ("del" comes last).
LOOP_DIES_IN_CALL_SOON = """
    import asyncio
    from outrun import Output

    events, holder = [], []

    def call_soon(callback, *args):
        events.append("call_soon")
        holder.clear()
        asyncio.events._set_running_loop(None)
        raise RuntimeError("Event loop is closed")

    class Loop:
        def __init__(self):
            self.call_soon = call_soon  # no self: nothing else holds it
        def is_closed(self):
            events.append("is_closed")
            return True
        def __del__(self):
            events.append("del")

    holder.append(Loop())
    asyncio.events._set_running_loop(holder[0])
    derived = Output.from_input(1).apply(str)
    print(events)
"""

LOOP_DIES_IN_GETATTR = """
    import asyncio
    from outrun import Output

    events, holder = [], []

    class Loop:
        @property
        def call_exception_handler(self):
            events.append("getattr")
            holder.clear()
            asyncio.events._set_running_loop(None)
            return lambda context: None
        def call_soon(self, callback, *args):
            events.append("call_soon")
        def __del__(self):
            events.append("del")

    holder.append(Loop())
    asyncio.events._set_running_loop(holder[0])
    o = Output._pending()
    o._reject(ValueError("never retrieved"))
    del o  # reported through the loop, which it looks up weakly
    print(events)
"""


@pytest.mark.parametrize(("code", "events"), [
    (LOOP_DIES_IN_CALL_SOON, ["call_soon", "is_closed", "del"]),
    (LOOP_DIES_IN_GETATTR, ["getattr", "call_soon", "del"]),
], ids=["scheduling-a-drain", "reporting-a-rejection"])
def test_a_loop_from_a_weak_reference_lives_while_it_is_used(new_loop, code,
                                                             events):
    proc = _child(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == repr(events), proc.stderr


CLOSED_LOOP_AT_SHUTDOWN = """
    import asyncio, threading
    import _outrun, outrun

    started, gate = threading.Event(), threading.Event()
    loop = asyncio.new_event_loop()

    def work():
        started.set()
        return gate.wait(30)

    async def start():
        return outrun.to_thread(work)

    fut = loop.run_until_complete(start())
    started.wait(30)  # running: shutdown lets it finish, not cancels it
    loop.close()
    gate.set()
    # The job finishes after its loop closed: its future takes the result
    # but cannot schedule its callbacks (RuntimeError from call_soon),
    # which is no error at shutdown.
    print(_outrun.shutdown(30.0), fut.result())
"""


def test_a_job_finishing_after_its_loop_closed_is_no_error(new_loop):
    proc = _child(CLOSED_LOOP_AT_SHUTDOWN)
    assert (proc.returncode, proc.stdout) == (0, "0 True\n"), proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr
