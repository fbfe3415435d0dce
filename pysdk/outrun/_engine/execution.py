"""Execution: the queue of steps whose inputs are ready, and at most
``parallel`` of them running provider code at a time.  A provider that
says ``blocking = False`` runs inline, here; the others plan on the
native pool, have the operation recorded in the state (committed) before
it starts, then operate on the pool (their ``async def`` methods on the
loop).  Each finished step is handed to the results.
"""

from __future__ import annotations

import inspect
import time
from collections import deque
from time import monotonic as _monotonic
from typing import TYPE_CHECKING, Any

from outrun._engine import plan
from outrun._engine.provider_calls import (
    Threaded,
    catching,
    checked,
    create_call,
    delete_old,
    operate_step,
    plan_safe,
    plan_step,
    provider_exit,
    real_interrupt,
    to_thread,
)
from outrun._engine.state import StateError
from outrun._engine.steps import EMPTY, Outcome, Step, label
from outrun.dynamic import ResourceProvider

if TYPE_CHECKING:
    from outrun._engine.deployment import Deployment
    from outrun._engine.recording import Recorder
    from outrun._engine.results import Results

_METHODS = ("check", "diff", "create", "read", "update", "delete")


def method_kind(cls: type, name: str) -> str:
    """'base' (not overridden), 'async' or 'sync'."""
    fn = getattr(cls, name, None)
    if fn is None or fn is getattr(ResourceProvider, name, None):
        return "base"
    return "async" if inspect.iscoroutinefunction(fn) else "sync"


class Executor:
    """The steps of one run from ready to finished."""

    def __init__(self, run: Deployment, results: Results,
                 recorder: Recorder) -> None:
        self.run = run
        self.results = results
        self.recorder = recorder
        self.loop = run.loop
        self.dry_run = run.dry_run
        self.parallel = max(1, run.parallel)
        self.queue: deque[Step] = deque()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.pumping = False
        self.stopping = False
        # Which of a provider class's methods it defines, and its mode.
        self.method_kinds: dict[type, dict[str, str]] = {}
        # Steps with provider work in flight, and provider calls finished
        # (--debug-pending's report and progress).
        self.running: set[Step] = set()
        self.calls_done = 0

    def mode(self, provider: Any) -> str:
        """How a provider's methods run: 'inline' (blocking = False),
        'pool' or 'async' (one of its methods is async def)."""
        cls = type(provider)
        kinds = self.method_kinds.get(cls)
        if kinds is None:
            kinds = {m: method_kind(cls, m) for m in _METHODS}
            kinds["mode"] = (
                "async" if "async" in kinds.values() else
                "inline" if not getattr(provider, "blocking", True) else
                "pool")
            self.method_kinds[cls] = kinds
        return kinds["mode"]

    # The queue ---------------------------------------------------------------

    def submit(self, step: Step) -> None:
        """A step whose inputs are ready."""
        if step.mode == "inline" and not self.stopping:
            # Quick and pure: no slot to wait for, nothing in flight.
            step.started = _monotonic()
            self.finish_recorded(step, self._run_inline(step), False)
            return
        self.queue.append(step)
        if not self.pumping:
            self.pump()

    def pump(self) -> None:
        self.pumping = True
        try:
            queue = self.queue
            while queue and self.in_flight < self.parallel:
                if self.stopping:
                    while queue:
                        self.results.skip(queue.popleft(),
                                          "the run was interrupted")
                    break
                step = queue.popleft()
                self.in_flight += 1
                if self.in_flight > self.peak_in_flight:
                    self.peak_in_flight = self.in_flight
                step.started = time.monotonic()
                if step.mode == "inline":
                    self.finish_recorded(step, self._run_inline(step))
                else:
                    self.loop.create_task(self._run_threaded(step))
        finally:
            self.pumping = False

    # Running a step ----------------------------------------------------------

    def _run_inline(self, step: Step) -> Outcome:
        """A provider that never blocks: planned and run right here."""
        outcome = Outcome()
        call = step.provider
        kinds = self.method_kinds[type(call)]
        if step.old is None and not (step.unknown_inputs or step.import_id):
            # The common case, a create, without the general planning.
            try:
                news = step.inputs
                if kinds["check"] != "base":
                    news = checked(call, EMPTY, news)
                outcome.news = news
                outcome.op = plan.CREATE
                if not self.dry_run:
                    outcome.id, outcome.outs = create_call(call, call, news)
            except Exception as exc:  # noqa: BLE001 - the step's error
                outcome.error = exc
            except (SystemExit, KeyboardInterrupt) as exc:
                if real_interrupt(exc):
                    raise
                outcome.error = provider_exit(exc, call, "create()")
            return outcome
        planning = True
        try:
            plan_step(kinds, step, outcome, call)
            planning = False
            if not self.dry_run and outcome.op != plan.SAME:
                operate_step(step, outcome, call)
        except Exception as exc:  # noqa: BLE001 - the step's error
            outcome.error = exc
        except (SystemExit, KeyboardInterrupt) as exc:
            if real_interrupt(exc):
                raise
            outcome.error = provider_exit(
                exc, call, "check() or diff()" if planning else
                {plan.IMPORT: "read()", plan.UPDATE: "update()"}.get(
                    outcome.op, "create()"))
        return outcome

    async def _run_threaded(self, step: Step) -> None:
        """A provider that may block: planned on a pool thread; if there is
        something to do, the operation is recorded in the state, and then
        run on a pool thread.  Its async methods run on the loop while the
        pool thread waits for them."""
        call = Threaded(step.provider, self.loop, step.timeouts, step)
        outcome = Outcome()
        recorder = self.recorder
        self.running.add(step)
        try:
            outcome = await to_thread(
                plan_safe, self.method_kinds[type(step.provider)], step,
                outcome, call)
            if outcome.error is None and not self.dry_run \
                    and outcome.op != plan.SAME:
                recorder.intent(step, outcome)
                await recorder.commit()
                if outcome.op == plan.REPLACE and outcome.dbr \
                        and step.old is not None:
                    # The delete first, on its own, and the state told
                    # before the create starts: a run that dies during
                    # the create then knows the old one is gone and the
                    # new one may exist.
                    outcome = await to_thread(catching, delete_old, step,
                                              outcome, call)
                    if outcome.error is None:
                        recorder.create_intent(step, outcome)
                        await recorder.commit()
                if outcome.error is None:
                    outcome = await to_thread(catching, operate_step, step,
                                              outcome, call)
        except Exception as exc:  # noqa: BLE001 - the pool or the state
            outcome.error = exc
        except BaseException as exc:
            # Cancelled (Ctrl-C): the step ends as failed, so that nothing
            # waits for it, and the cancellation goes on.
            outcome.error = exc
            self.finish_recorded(step, outcome)
            raise
        finally:
            self.running.discard(step)
            self.calls_done += 1
        self.finish_recorded(step, outcome)

    # A step's end ------------------------------------------------------------

    def finish_recorded(self, step: Step, outcome: Outcome,
                        slot: bool = True) -> None:
        """_finished(), and a failure of the step if its result cannot be
        recorded (outputs that are not JSON values): the step must settle
        either way, or everything waiting on it would wait for ever."""
        try:
            self._finished(step, outcome, slot)
        except Exception as exc:  # noqa: BLE001 - the step's error
            if step.settled:
                raise
            done = outcome.error is None and outcome.op in (
                plan.CREATE, plan.IMPORT, plan.UPDATE, plan.REPLACE)
            if done and step.mode != "inline":
                # The provider did its work; the state keeps the intent
                # record, so the next run says the resource may exist.
                msg = (f"{exc}; the provider's {outcome.op} finished but "
                       "its result could not be saved, so the next run "
                       "reports the resource as possibly existing outside "
                       "the state")
                exc = StateError(msg)
            self.results.fail(step, exc, keep_intent=done)
            if slot and not self.pumping and self.queue:
                self.pump()

    def _finished(self, step: Step, outcome: Outcome, slot: bool) -> None:
        if slot:
            self.in_flight -= 1
        step.elapsed = _monotonic() - step.started
        op = step.op = outcome.op or plan.CREATE
        if outcome.error is not None:
            self.results.fail(step, outcome.error)
        elif op == plan.CREATE and not self.dry_run:
            self.results.created(step, outcome, outcome.news or step.inputs)
        else:
            if outcome.changed:
                step.detail = ", ".join(outcome.changed)
            self.results.succeeded(step, outcome)
        if slot and not self.pumping and self.queue:
            self.pump()

    # --debug-pending ---------------------------------------------------------

    def pending_report(self) -> str:
        """--debug-pending and SIGQUIT: the steps in flight (which provider
        method runs, for how long), queued, and waiting for inputs."""
        now = _monotonic()
        waiting = [s for s in self.run.steps.values()
                   if not s.settled and s.watched is not None]
        lines = [f"the engine: {len(self.running)} step(s) in flight, "
                 f"{len(self.queue)} queued, {len(waiting)} waiting for "
                 "their inputs"]
        for step in sorted(self.running, key=lambda s: s.started):
            what = f"{step.op or 'plan'} of {label(step)}"
            method = step.calling
            if method is not None:
                lines.append(
                    f"  {what}: {type(step.provider).__name__}.{method}() "
                    f"running for {now - step.call_started:.1f} s")
            else:
                lines.append(f"  {what}: between provider calls (waiting "
                             "for the pool or a state commit) for "
                             f"{now - step.started:.1f} s")
        for step in waiting[:20]:
            keys = [k if k is not None else "depends_on"
                    for k, out in step.watched or ()
                    if out._peek()[0] == "pending"]
            lines.append(f"  {label(step)} waits for "
                         f"{', '.join(keys) or 'its inputs'}")
        if len(waiting) > 20:
            lines.append(f"  ... and {len(waiting) - 20} more waiting")
        return "\n".join(lines)
