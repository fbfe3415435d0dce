"""Results: what a finished step comes to -- its values (what the
program's Outputs read), its record for the state, its count, its line in
the display, and its settling (a failure or a skip rejects its Outputs,
so that what depends on it is skipped in turn).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from outrun._engine import plan
from outrun._engine.recording import copy_state, meta_changed
from outrun._engine.state import ResourceState
from outrun._engine.steps import EMPTY, Outcome, Step, describe_error

if TYPE_CHECKING:
    from outrun._engine.deployment import Deployment
    from outrun._engine.recording import Recorder


class Results:
    """The ends of the steps of one run."""

    def __init__(self, run: Deployment, recorder: Recorder) -> None:
        self.run = run
        self.recorder = recorder
        self.display = run.display
        self.dry_run = run.dry_run
        self.counts = run.counts
        self.failures = run.failures

    def count(self, op: str) -> None:
        self.counts[op] = self.counts.get(op, 0) + 1

    def created(self, step: Step, outcome: Outcome,
                news: Mapping[str, Any]) -> None:
        """succeeded() for the most common step, a create."""
        outs = outcome.outs
        # An input the provider did not return reads as the input (see
        # Step._settled_output); the state keeps what the provider said.
        values = news if outs is None else outs
        step.values = values
        if values is not news:
            # Keep one dict per resource when it holds everything: the
            # input and the props it came from can go.
            vkeys = values.keys()
            if vkeys >= step.keys:
                step.keys = vkeys
            if vkeys >= news.keys():
                step.inputs = EMPTY
        if step.secret_inputs or step.secret_outs:
            step.out_secret = frozenset(
                k for k in values if k in step.secret_inputs
                or k in step.secret_outs)
        step.id_value = outcome.id
        step.known = True
        recorder = self.recorder
        writer = recorder.writer
        if writer is not None:
            parent = step.parent
            deps = step.deps
            if step.secret_inputs or step.out_secret:
                writer.put(ResourceState(
                    step.urn, step.type, step.name, True, step.provider_ref,
                    outcome.id, parent.urn if parent is not None else None,
                    news, values, step.secret_inputs, step.out_secret,
                    tuple(sorted(deps)) if deps else (), step.protect,
                    step.retain, None, False, step.seq))
            else:
                writer.put_plain(step.urn, (
                    step.type, step.name, True, step.provider_ref,
                    outcome.id, parent.urn if parent is not None else None,
                    news, values, (), (),
                    tuple(sorted(deps)) if deps else (), step.protect,
                    step.retain, None, False, step.seq))
        step.ok = True
        if writer is None:
            self.display.step_finished(step)
        else:
            recorder.awaiting_commit.append(step)
        counts = self.counts
        counts["create"] = counts.get("create", 0) + 1
        recorder.resolve(step)

    def succeeded(self, step: Step, outcome: Outcome) -> None:
        op = outcome.op
        if op == plan.SAME:
            self._same(step)
            return
        news = outcome.news
        if news is None:
            news = step.inputs
        old = step.old
        recorder = self.recorder
        if self.dry_run:
            values: Mapping[str, Any] = dict(news)
            step.values = values
            step.id_value = old.id if old is not None \
                and op == plan.UPDATE else None
            step.out_secret = frozenset(step.secret_inputs) | frozenset(
                step.secret_outs)
            step.known = False
        else:
            outs = outcome.outs
            if outs is None:
                values = news
            elif type(outs) is dict and news.keys() <= outs.keys():
                # The usual case: the provider returned every input.
                values = outs
            else:
                values = dict(news)
                values.update(outs)
            step.values = values
            if step.secret_inputs or step.secret_outs:
                step.out_secret = frozenset(
                    k for k in values if k in step.secret_inputs
                    or k in step.secret_outs)
            step.id_value = outcome.id
            step.known = True
            if op == plan.REPLACE and old is not None and not outcome.dbr:
                # The old half is deleted after everything else.
                old_copy = copy_state(old)
                old_copy.delete = True
                recorder.writer.put(old_copy)
                self.run.old[old_copy.key] = old_copy
            recorder.record(step, outcome.id, values, news=news)
        if self.dry_run:
            self.display.step_started(step)
        step.ok = True
        if recorder.writer is None:
            self.display.step_finished(step)
        else:
            recorder.awaiting_commit.append(step)
        self.count(op)
        recorder.resolve(step)

    def _same(self, step: Step) -> None:
        """A resource that stays as it is."""
        old = step.old
        assert old is not None
        step.values = old.outputs
        step.out_secret = old.secret_outputs
        step.id_value = old.id
        step.known = True
        self.recorder.record(step, old.id, old.outputs,
                             write=meta_changed(old, step), news=old.inputs)
        self.display.same(step)
        self.count(plan.SAME)
        self.recorder.resolve(step)

    def component(self, step: Step) -> None:
        """A component resource: no provider, done as soon as it is ready
        (its outputs come later, see Registry.register_outputs)."""
        old = step.old
        step.values = {}
        step.out_secret = frozenset()
        step.known = True
        if old is None:
            step.op = plan.CREATE
        else:
            step.op = plan.SAME
        self.recorder.record(step, None, {}, write=old is None
                             or meta_changed(old, step))
        if step.op == plan.SAME:
            self.display.same(step)
        self.count(step.op)
        step.settle(1)
        self.run.step_settled()

    def fail(self, step: Step, exc: BaseException,
             keep_intent: bool = False) -> None:
        if self.recorder.writer is not None and not keep_intent:
            self.recorder.undo(step)
        step.ok = False
        step.error = describe_error(exc) \
            if not isinstance(exc, (plan.ProtectedError, ValueError)) \
            else str(exc)
        self.failures.append((step.urn, step.error))
        self.display.step_finished(step)
        self.count("failed")
        step.settle(2)
        self.run.step_settled()

    def skip(self, step: Step, reason: str) -> None:
        step.error = reason
        self.run.skipped += 1
        self.display.step_skipped(step, reason)
        step.settle(3)
        self.run.step_settled()

