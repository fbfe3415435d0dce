"""Blocking Python work on Outrun's native pool: offload, to_thread and the
blocking decorator."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import _outrun
from _outrun import Output

P = ParamSpec("P")
R = TypeVar("R")


def offload(fn: Callable[P, R], /, *args: P.args,
            **kwargs: P.kwargs) -> Output[R]:
    """Runs ``fn(*args, **kwargs)`` on a native worker thread, with the
    caller's context variables, and returns an Output of its result.

    The GIL is taken only around the call itself.  An exception rejects the
    Output with its original traceback (and, under ``outrun run``, fails
    the run unless something recovers it).
    """
    return _outrun.offload(fn, *args, **kwargs)


class _ThreadCall(asyncio.Future):  # type: ignore[type-arg]
    """The awaitable outrun.to_thread returns: a loop future that also
    behaves as a coroutine (send/throw/close), so that it goes wherever
    asyncio.to_thread's coroutine goes (await, gather, create_task,
    wait_for) while gather and ensure_future take it as the future it is,
    with no Task per call."""

    __slots__ = ()

    def send(self, value: Any) -> Any:
        if not self.done():
            self._asyncio_future_blocking = True
            return self
        raise StopIteration(self.result())

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        if val is None:
            raise typ
        raise val.with_traceback(tb) if tb is not None else val

    def close(self) -> None:
        pass


def to_thread(fn: Callable[P, R], /, *args: P.args,
              **kwargs: P.kwargs) -> Awaitable[R]:
    """A faster ``asyncio.to_thread``: the same signature and semantics, on
    Outrun's native pool.  Cancelling it cancels the call if it has not
    started; a call already running finishes and its result is dropped.
    Call it from a running event loop."""
    call = _ThreadCall(loop=asyncio.get_running_loop())
    return _outrun.call_into(call, fn, *args, **kwargs)


def blocking(fn: Callable[P, R]) -> Callable[P, Output[R]]:
    """Decorator: calling ``fn`` runs it with :func:`offload` and returns an
    Output instead of blocking the loop.

    >>> @outrun.blocking
    ... def fetch(url): return requests.get(url).text
    >>> page = fetch("http://127.0.0.1:8000/")   # Output[str]
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Output[R]:
        return _outrun.offload(fn, *args, **kwargs)

    wrapper.__wrapped__ = fn
    return wrapper


__all__ = ["blocking", "offload", "to_thread"]

