"""One step's provider calls: plan (check, diff), operate (create, update,
read, the delete of a delete-before-replace), on the loop or from a pool
thread, with a provider's own SystemExit or KeyboardInterrupt made its
step's failure.

The functions here hold no state of the run; the queue that decides when
they run is in ``execution``.  This module is also the engine's one way
to the loop runtime (``runtime()``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from time import monotonic as _monotonic
from typing import Any

from _outrun import contains_unknowns

from outrun import _loop, _offload
from outrun._engine import plan
from outrun._engine.steps import EMPTY, Outcome, ProviderExitError, Step
from outrun.dynamic import DiffResult


def runtime(any_thread: bool = False) -> _loop.Runtime | None:
    """The loop runtime of the run in progress (``outrun._loop``), or None.
    By default only on that run's loop thread; with any_thread, the one
    the process runs, from wherever."""
    return _loop.in_progress() if any_thread else _loop.current()


# Planning and operating ------------------------------------------------------


def checked(call: Any, olds: Mapping[str, Any],
            news: Mapping[str, Any]) -> Mapping[str, Any]:
    """The provider's check(): the inputs to use, or ValueError naming
    every failure."""
    result = call.check(olds, news)
    if result.failures:
        reasons = "; ".join(
            f"{f.property}: {f.reason}" if f.property else f.reason
            for f in result.failures)
        raise ValueError(f"invalid inputs: {reasons}")
    return result.inputs


def create_call(call: Any, provider: Any,
                news: Mapping[str, Any]) -> tuple[str, Any]:
    """The provider's create(): (id, outs)."""
    r = call.create(news)
    if r is None or not getattr(r, "id", None):
        raise ValueError(
            f"{type(provider).__name__}.create() must return "
            "CreateResult(id, outs) with a non-empty id")
    if not isinstance(r.id, str):
        raise TypeError(
            f"{type(provider).__name__}.create() returned the id {r.id!r} "
            f"({type(r.id).__name__}); an id must be a string: return "
            "CreateResult(str(...), outs)")
    return r.id, r.outs


def plan_step(kinds: Mapping[str, str], step: Step, outcome: Outcome,
              call: Any) -> None:
    """What the step does (outcome.op, .news, .changed, .replaces, .dbr);
    kinds: which of the provider's methods it defines (see
    registration.method_kind)."""
    old = step.old
    news = step.inputs
    if old is not None and step.ignore:
        news = plan.apply_ignore_changes(old.inputs, news, step.ignore)
    if step.unknown_inputs:
        _plan_unknown(kinds, step, outcome, call, news)
        return
    if kinds["check"] != "base":
        news = checked(call, old.inputs if old is not None else EMPTY,
                       news)
    outcome.news = news
    if old is None:
        outcome.op = plan.IMPORT if step.import_id else plan.CREATE
        return
    diff = None
    if kinds["diff"] != "base":
        diff = call.diff(old.id, old.outputs, news)
        if diff is not None and not isinstance(diff, DiffResult):
            raise TypeError(f"{type(step.provider).__name__}.diff() "
                            "must return a DiffResult, not "
                            f"{type(diff).__name__}")
    op, changed, replaces = plan.decide(
        old.inputs, news, diff, replace_on_changes=step.roc,
        can_update=kinds["update"] != "base")
    if op == plan.SAME and old.secret_inputs != step.secret_inputs:
        op, changed = plan.UPDATE, sorted(
            old.secret_inputs ^ step.secret_inputs)
    outcome.op, outcome.changed, outcome.replaces = op, changed, replaces
    outcome.dbr = step.dbr or bool(diff is not None
                                   and diff.delete_before_replace)
    if op == plan.REPLACE and old.protect:
        raise plan.ProtectedError(
            f"resource '{step.name}' is protected and its change of "
            f"{', '.join(replaces)} needs a replacement; set "
            "protect=False (or remove it) and run `outrun up` first, "
            "or undo the change")


def _plan_unknown(kinds: Mapping[str, str], step: Step, outcome: Outcome,
                  call: Any, news: Mapping[str, Any]) -> None:
    """A preview with inputs not known yet: the provider's diff (if it has
    one) says whether they would replace; otherwise the step is an
    update."""
    old = step.old
    outcome.news = news
    if old is None:
        outcome.op = plan.CREATE
        return
    diff = call.diff(old.id, old.outputs, news) \
        if kinds["diff"] != "base" else None
    replaces = list(diff.replaces) if diff is not None else []
    outcome.changed = [k for k, v in news.items()
                       if contains_unknowns(v)] or replaces
    outcome.replaces = replaces
    outcome.op = plan.REPLACE if replaces or \
        kinds["update"] == "base" else plan.UPDATE


def operate_step(step: Step, outcome: Outcome, call: Any) -> None:
    """Does what plan_step decided (not SAME): outcome.id and .outs."""
    op = outcome.op
    news = outcome.news or EMPTY
    old = step.old
    if op == plan.CREATE or op == plan.REPLACE:
        if op == plan.REPLACE and outcome.dbr and old is not None \
                and not step.old_deleted:
            # Inline: no state between the delete and the create.
            delete_old(step, outcome, call)
        outcome.id, outcome.outs = create_call(call, step.provider, news)
    elif op == plan.UPDATE:
        assert old is not None  # planned as an update: it exists
        r = call.update(old.id, old.outputs, news)
        outcome.id = old.id
        outcome.outs = r.outs if r is not None else None
    elif op == plan.IMPORT:
        r = call.read(step.import_id, news)
        if r is None or r.outs is None:
            raise ValueError(f"resource '{step.name}': nothing to import "
                             f"with id {step.import_id!r}")
        if r.id and not isinstance(r.id, str):
            raise TypeError(
                f"{type(step.provider).__name__}.read() returned the id "
                f"{r.id!r} ({type(r.id).__name__}); an id must be a "
                "string")
        outcome.id = r.id or str(step.import_id)
        outcome.outs = r.outs


def delete_old(step: Step, outcome: Outcome, call: Any) -> None:
    """The delete of a delete-before-replace (outcome: catching's
    signature)."""
    old = step.old
    assert old is not None  # a replacement: it exists
    if not old.retain_on_delete:
        call.delete(old.id, old.outputs)
    step.old_deleted = True


# From a pool thread ----------------------------------------------------------


def catching(phase: Any, step: Step, outcome: Outcome,
             call: Any) -> Outcome:
    """Runs a phase (on a pool thread); its exception becomes the step's
    error."""
    try:
        phase(step, outcome, call)
    except Exception as exc:  # noqa: BLE001 - the step's error
        outcome.error = exc
    return outcome


def plan_safe(kinds: Mapping[str, str], step: Step, outcome: Outcome,
              call: Any) -> Outcome:
    """plan_step on a pool thread: its exception becomes the step's
    error."""
    try:
        plan_step(kinds, step, outcome, call)
    except Exception as exc:  # noqa: BLE001 - the step's error
        outcome.error = exc
    return outcome


async def to_thread(fn: Any, *args: Any) -> Any:
    return await _offload.to_thread(fn, *args)


class Threaded:
    """Calls a provider's methods from a pool thread: plain ones directly,
    ``async def`` ones on the loop (the pool thread waits for them), with
    custom timeouts applied to those."""

    def __init__(self, provider: Any, loop: asyncio.AbstractEventLoop,
                 timeouts: Any, step: Step | None = None) -> None:
        self._provider = provider
        self._loop = loop
        self._timeouts = timeouts
        self._step = step

    def __getattr__(self, name: str) -> Any:
        fn = self._method(name)
        step = self._step
        if step is None:
            return fn

        def noted(*args: Any) -> Any:
            # --debug-pending names the method running for the step.
            step.calling, step.call_started = name, _monotonic()
            try:
                return fn(*args)
            finally:
                step.calling = None
        return noted

    def _method(self, name: str) -> Any:
        fn = getattr(self._provider, name)
        if not inspect.iscoroutinefunction(fn):
            return exits_caught(fn, name + "()", self._provider)
        loop = self._loop
        timeout = None
        if self._timeouts is not None:
            text = getattr(self._timeouts, name, None) \
                if name in ("create", "update", "delete", "read") else None
            timeout = parse_duration(text) if text else None

        provider = self._provider

        async def guarded(coro: Any) -> Any:
            # On the loop, SystemExit or KeyboardInterrupt out of a task
            # would end the run: the provider's own is its step's failure.
            try:
                return await coro
            except (SystemExit, KeyboardInterrupt) as exc:
                if real_interrupt(exc):
                    raise
                raise provider_exit(exc, provider, name + "()") from None

        def call(*args: Any) -> Any:
            coro = guarded(fn(*args))
            if timeout is not None:
                coro = asyncio.wait_for(coro, timeout)
            try:
                return asyncio.run_coroutine_threadsafe(coro, loop).result()
            except TimeoutError as exc:
                if timeout is None or str(exc):
                    raise
                raise TimeoutError(
                    f"{name} took longer than its custom timeout "
                    f"({name}={text!r}); raise it in "
                    "ResourceOptions(custom_timeouts=CustomTimeouts(...)) "
                    "if the operation needs longer") from None
        return call


# A provider's own SystemExit or KeyboardInterrupt ----------------------------


def real_interrupt(exc: BaseException) -> bool:
    """A KeyboardInterrupt of Ctrl-C (the run is interrupted), not one a
    provider raised itself."""
    if not isinstance(exc, KeyboardInterrupt):
        return False
    rt = runtime(any_thread=True)
    return rt is None or rt.interrupted


def provider_exit(exc: BaseException, provider: Any,
                  method: str) -> ProviderExitError:
    """The step's error for a provider that raised SystemExit or
    KeyboardInterrupt."""
    what = type(exc).__name__
    if isinstance(exc, SystemExit) and exc.code is not None:
        what += f"({exc.code!r})"
    return ProviderExitError(
        f"{type(provider).__name__}.{method} raised {what}; this step "
        "failed and the run went on. A provider reports a failure by "
        "raising an exception (such as RuntimeError), not by exiting")


def exits_caught(fn: Any, method: str, provider: Any = None) -> Any:
    """fn, with a SystemExit or KeyboardInterrupt it raises (on a pool
    thread, never Ctrl-C's) turned into its step's failure."""
    owner = provider if provider is not None \
        else getattr(fn, "__self__", fn)

    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except (SystemExit, KeyboardInterrupt) as exc:
            raise provider_exit(exc, owner, method) from None
    return call


def parse_duration(text: str) -> float:
    """'90s', '5m', '1h30m', '2.5s' -> seconds."""
    total = 0.0
    num = ""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    for ch in text.strip():
        if ch.isdigit() or ch == ".":
            num += ch
        elif ch in units and num:
            total += float(num) * units[ch]
            num = ""
        else:
            raise ValueError(f"cannot read the duration {text!r}; write it "
                             "like '30s', '5m' or '1h30m'")
    if num:
        total += float(num)
    return total
