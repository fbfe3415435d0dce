"""Recording: the state's side of a run.  A step's records and intents go
to the stack's writer; one batched commit per loop turn writes them; only
then are the steps shown done and the Outputs of resources that touch the
outside world resolved, so that nothing that depends on a resource starts
before the resource is in the state.  A commit that fails (a full disk)
ends the run here, naming what was not recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from outrun._engine import plan
from outrun._engine.state import ResourceState, StateError
from outrun._engine.steps import Outcome, Step

if TYPE_CHECKING:
    from outrun._engine.deployment import Deployment


def copy_state(st: ResourceState) -> ResourceState:
    return ResourceState(
        urn=st.urn, type=st.type, name=st.name, custom=st.custom,
        provider=st.provider, id=st.id, parent=st.parent, inputs=st.inputs,
        outputs=st.outputs, secret_inputs=st.secret_inputs,
        secret_outputs=st.secret_outputs, deps=st.deps, protect=st.protect,
        retain_on_delete=st.retain_on_delete, pending=st.pending,
        delete=st.delete, seq=st.seq)


def meta_changed(old: ResourceState, step: Step) -> bool:
    """Whether the record of a resource whose values stay must still be
    written (its parent, options, provider, dependencies or URN moved, or
    it was left unfinished)."""
    parent = step.parent.urn if step.parent is not None else None
    return (old.parent != parent or old.protect != step.protect
            or old.retain_on_delete != step.retain
            or old.provider != step.provider_ref
            or old.deps != tuple(sorted(step.deps))
            or old.pending is not None or old.urn != step.urn)


class Recorder:
    """The stack's writer during one run, and the commits that wait."""

    def __init__(self, run: Deployment) -> None:
        self.run = run
        self.loop = run.loop
        self.display = run.display
        # The stack's Writer (see Deployment.load); None in a preview.
        self.writer: Any = None
        # Steps whose Outputs resolve after the next commit.
        self.to_resolve: list[Step] = []
        self.commit_waiters: list[asyncio.Future[None]] = []
        # Steps done whose records wait in the writer: the display shows
        # them done only once the state holds them (see flush, _fatal).
        self.awaiting_commit: list[Step] = []
        self.flush_scheduled = False
        # Why the state could not be written, once it could not.
        self.fatal: BaseException | None = None

    # Records -----------------------------------------------------------------

    def record(self, step: Step, id_: str | None,
               outputs: Mapping[str, Any], *, write: bool = True,
               news: Mapping[str, Any] | None = None) -> None:
        """Queues the step's record: id_ and outputs, its inputs (news,
        or the step's), and everything else from the step; nothing when
        not write."""
        if self.writer is None or not write:
            return
        self.writer.put(ResourceState(
            urn=step.urn, type=step.type, name=step.name, custom=step.custom,
            provider=step.provider_ref, id=id_,
            parent=step.parent.urn if step.parent is not None else None,
            inputs=news if news is not None else step.inputs,
            outputs=outputs,
            secret_inputs=step.secret_inputs,
            secret_outputs=step.out_secret,
            deps=tuple(sorted(step.deps)) if step.deps else (),
            protect=step.protect,
            retain_on_delete=step.retain, seq=step.seq))

    def intent(self, step: Step, outcome: Outcome) -> None:
        """Records in the state the operation about to start, so that a run
        that dies during it leaves a note for the next one."""
        step.op = outcome.op
        self.display.step_started(step)
        if self.writer is None:
            return
        old = step.old
        op = outcome.op
        if op == plan.UPDATE or (op == plan.REPLACE and outcome.dbr):
            assert old is not None  # an update or a replacement has one
            st = copy_state(old)
            st.pending = "updating" if op == plan.UPDATE else "deleting"
            self.writer.put(st)
            return
        if op == plan.REPLACE:
            # The old resource waits in its delete slot while its
            # replacement is made.
            assert old is not None
            gone = copy_state(old)
            gone.delete = True
            self.writer.put(gone)
        self.create_intent(step, outcome)

    def create_intent(self, step: Step, outcome: Outcome) -> None:
        """The record of a create about to start (it replaces, under the
        same URN, the record of an old resource that is gone)."""
        if self.writer is None:
            return
        self.writer.put(ResourceState(
            urn=step.urn, type=step.type, name=step.name, custom=step.custom,
            provider=step.provider_ref,
            parent=step.parent.urn if step.parent is not None else None,
            inputs=outcome.news or {}, secret_inputs=step.secret_inputs,
            deps=tuple(sorted(step.deps)), pending="creating",
            seq=step.seq))

    def undo(self, step: Step) -> None:
        """The state of a failed step's resource: as it was before the
        step, or gone when the step had already deleted it."""
        old = step.old
        if step.old_deleted:
            # A delete-before-replace whose create failed: the old one is
            # gone and there is no new one.
            self.writer.remove(step.urn)
        elif old is not None and step.op in (plan.UPDATE, plan.REPLACE):
            # The resource stays as it was; a replacement's old half goes
            # back to its place.
            self.writer.put(old)
            if step.op == plan.REPLACE:
                self.writer.remove(old.urn + "#delete")
        elif old is None and step.op in (plan.CREATE, plan.IMPORT) \
                and step.mode != "inline":
            self.writer.remove(step.urn)

    # Commits -----------------------------------------------------------------

    def resolve(self, step: Step) -> None:
        """The step's record is queued for the state: it is committed at the
        end of this loop turn, together with every other record of the
        turn.  A provider that touches the outside world (a blocking or
        async one) resolves its Outputs only after that commit, so nothing
        that depends on it starts before it is on disk; a pure, inline one
        (random) resolves them now: an operation of anything depending on
        it commits its intent first, and that commit carries this record
        too."""
        if self.writer is None:
            step.settle(1)
            self.run.step_settled()
            return
        self.schedule_flush()
        if step.mode == "inline":
            step.settle(1)
            self.run.step_settled()
            return
        self.to_resolve.append(step)

    def schedule_flush(self) -> None:
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def commit(self) -> asyncio.Future[None]:
        """A future done when what is queued now is committed."""
        fut = self.loop.create_future()
        self.commit_waiters.append(fut)
        self.schedule_flush()
        return fut

    def flush(self) -> None:
        """The commit of a loop turn; then what waited for it goes on."""
        self.flush_scheduled = False
        if self.writer is not None:
            try:
                self.writer.flush(self.run.beat)
            except Exception as exc:  # noqa: BLE001 - ends the run
                self._fatal(exc)
                return
        shown, self.awaiting_commit = self.awaiting_commit, []
        for step in shown:
            self.display.step_finished(step)
        waiters, self.commit_waiters = self.commit_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        steps, self.to_resolve = self.to_resolve, []
        settled = self.run.step_settled
        for step in steps:
            step.settle(1)
            settled()

    def flush_now(self) -> bool:
        """Commits what is queued (at the end of a run) and shows the steps
        it holds as done; False when it could not.  A state that cannot
        be written ends the run as in flush: a failure with the reason,
        never a traceback."""
        if self.writer is None:
            return True
        try:
            self.writer.flush()
        except StateError as exc:
            self._fatal(exc)
            return False
        shown, self.awaiting_commit = self.awaiting_commit, []
        for step in shown:
            self.display.step_finished(step)
        return True

    # A state that cannot be written ------------------------------------------

    def _fatal(self, exc: BaseException) -> None:
        """The state cannot be written (a full disk): nothing more starts,
        what waited for this commit fails with the reason, and the records
        of the failed commit are dropped, so that no later commit writes
        what the run reports as not recorded.  No step of theirs was shown
        as done (see awaiting_commit); each is reported instead."""
        if self.fatal is None:
            self.fatal = exc
        self.run.stop()
        if self.writer is not None:
            self.writer.discard()
        waiters, self.commit_waiters = self.commit_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_exception(exc)
        shown, self.awaiting_commit = self.awaiting_commit, []
        steps, self.to_resolve = self.to_resolve, []
        waiting = {id(step) for step in steps}
        done = set()
        lost = []
        counts = self.run.counts
        for step in shown:
            # Counted as done when it finished; it is not, for the state.
            n = counts.get(step.op, 0) - 1
            if n > 0:
                counts[step.op] = n
            else:
                counts.pop(step.op, None)
            if id(step) in waiting:
                done.add(id(step))
            else:
                lost.append(step)
        fail = self.run.results.fail
        for step in steps:
            if id(step) in done:
                # The provider did its work and the intent record, which
                # was committed before it started, stays: the next run
                # says the operation did not finish.
                fail(step, StateError(
                    f"{exc}; its {step.op} finished but was not recorded, "
                    "so the next run reports it as unfinished"),
                    keep_intent=True)
            else:
                fail(step, exc)
        if lost:
            self._count_lost(lost, exc)

    def _count_lost(self, lost: list[Step], exc: BaseException) -> None:
        """Steps of inline providers (already settled) whose records did
        not reach the state: one failure names them all."""
        counts = self.run.counts
        counts["failed"] = counts.get("failed", 0) + len(lost)
        names = ", ".join(step.name for step in lost[:10])
        if len(lost) > 10:
            names += f" and {len(lost) - 10} more"
        done = {plan.CREATE: "created", plan.UPDATE: "updated",
                plan.REPLACE: "replaced", plan.IMPORT: "imported"}
        how = " or ".join(sorted({done.get(step.op, step.op)
                                  for step in lost}))
        one = len(lost) == 1
        self.run.failures.append((
            "state",
            f"{exc}. {len(lost)} resource{'' if one else 's'} "
            f"{'was' if one else 'were'} {how} by this run but not "
            f"recorded: {names}; the state holds what it held before, and "
            f"the next `outrun up` does {'it' if one else 'them'} again"))
