"""Dependency cycles: resources that wait on each other can never start.
While the run lasts, whenever the engine is idle and resources still
wait, the graph of what waits on what is searched; the resources of each
cycle found fail with a message naming the cycle (their dependents are
then skipped, as after any failure).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import _outrun

from outrun import _monitor
from outrun._engine.steps import DependencyCycleError, Step

if TYPE_CHECKING:
    from outrun._engine.deployment import Deployment

# How often the engine looks for dependency cycles while it is idle.
CYCLE_CHECK_S = 0.25


class CycleWatch:
    """The cycle search of one run, every CYCLE_CHECK_S."""

    def __init__(self, run: Deployment) -> None:
        self.run = run
        self.handle: asyncio.TimerHandle | None = None
        # What the run looked like at the last search that found nothing,
        # and searches to skip.
        self.seen: Any = None
        self.skips = 0

    def start(self) -> None:
        self.handle = self.run.loop.call_later(CYCLE_CHECK_S, self.tick)

    def tick(self) -> None:
        """Every CYCLE_CHECK_S while the run lasts: when the engine is idle
        (no step queued, in flight or waiting for its commit, no pool work)
        and resources still wait, looks for resources waiting on each
        other, and fails them (see break_cycles).  A cycle is certain, not
        guessed from a quiet spell: slow providers or offloads never cause
        a false alarm, they only keep the search from running."""
        self.handle = None
        if _monitor.active is not self.run:
            return
        if self._engine_idle():
            seen = self._progress_mark()
            if seen != self.seen or self.skips <= 0:
                self.seen = seen
                # Unchanged since a search that found nothing: search
                # again only now and then (a deferred_output resolved
                # later can close a cycle without settling anything).
                self.skips = 8
                if self.break_cycles():
                    self.seen = None
            else:
                self.skips -= 1
        self.start()

    def _engine_idle(self) -> bool:
        run = self.run
        executor, recorder = run.executor, run.recorder
        if not run.unsettled or executor.in_flight or executor.queue \
                or recorder.to_resolve or recorder.flush_scheduled \
                or executor.pumping:
            return False
        stats = _outrun.pool_stats()
        return stats is None or not (stats["queued"] or stats["running"])

    def _progress_mark(self) -> tuple[int, ...]:
        sched = _outrun.scheduler()
        return (sched.settled_count, sched.pending_count, self.run.unsettled,
                len(self.run.steps))

    def break_cycles(self) -> int:
        """Fails every resource that is part of a dependency cycle (its
        dependents are then skipped, as after any failure); returns how
        many.  The graph: a waiting resource -> its pending inputs (and
        depends_on), an Output -> the pending Outputs it waits on, a
        resource's own pending Output -> the resource."""
        owner: dict[int, Step] = {}
        waiting: list[Step] = []
        for step in self.run.steps.values():
            if step.settled:
                continue
            if step.pending_outs:
                for out in step.pending_outs.values():
                    owner[id(out)] = step
            if step.watched is not None:
                waiting.append(step)
        if not waiting:
            return 0
        cycles = find_cycles(waiting, owner)
        failed = 0
        fail = self.run.results.fail
        for cycle in cycles:
            exc = DependencyCycleError(describe_cycle(cycle))
            for step, _ in cycle:
                if not step.settled:
                    step.watched = None
                    step.props = None
                    fail(step, exc)
                    failed += 1
        return failed


def find_cycles(waiting: list[Step], owner: Mapping[int, Step]
                ) -> list[list[tuple[Step, str | None]]]:
    """The cycles among resources that wait, each a list of (resource,
    the input it waits through: a key, or None for depends_on), found by
    one depth-first search over resources and pending Outputs (iterative:
    a chain of Outputs may be long)."""
    def successors(node: Any) -> list[tuple[Any, Any]]:
        if isinstance(node, Step):
            if node.settled or node.watched is None:
                return []
            return [(out, key) for key, out in node.watched
                    if out._peek()[0] == "pending"]
        step = owner.get(id(node))
        if step is not None:
            return [(step, None)]
        outs = node._waits_on()
        return [(o, None) for o in outs] if outs else []

    colour: dict[int, int] = {}  # 1 on the path, 2 done
    cycles: list[list[tuple[Step, str | None]]] = []
    in_cycle: set[int] = set()
    for start in waiting:
        if id(start) in colour:
            continue
        # The path: [node, its successors, the next one to try, the label
        # of the edge taken from it].
        path: list[list[Any]] = [[start, successors(start), 0, None]]
        where: dict[int, int] = {id(start): 0}
        colour[id(start)] = 1
        while path:
            frame = path[-1]
            node, succ, i = frame[0], frame[1], frame[2]
            if i == len(succ):
                colour[id(node)] = 2
                del where[id(node)]
                path.pop()
                continue
            frame[2] = i + 1
            nxt, label = succ[i]
            frame[3] = label
            c = colour.get(id(nxt))
            if c is None:
                colour[id(nxt)] = 1
                where[id(nxt)] = len(path)
                path.append([nxt, successors(nxt), 0, None])
            elif c == 1:
                cycle = [(f[0], f[3]) for f in path[where[id(nxt)]:]
                         if isinstance(f[0], Step)]
                if cycle and not any(id(s) in in_cycle for s, _ in cycle):
                    in_cycle.update(id(s) for s, _ in cycle)
                    cycles.append(cycle)
    return cycles


def describe_cycle(cycle: list[tuple[Step, str | None]]) -> str:
    """'a' (Thing) waits on 'b' (Thing) through its input 'x', and ..."""
    def name(step: Step) -> str:
        return f"'{step.name}' ({type(step.res).__name__})"

    def through(label: str | None) -> str:
        return (f"its input '{label}'" if label is not None
                else "depends_on")

    if len(cycle) == 1:
        step, label = cycle[0]
        links = f"{name(step)} waits on itself through {through(label)}"
        never = "it can never be"
    else:
        never = "none of them can ever be"
        parts = []
        for i, (step, label) in enumerate(cycle):
            nxt = cycle[(i + 1) % len(cycle)][0]
            parts.append(f"{name(step)} waits on {name(nxt)} through "
                         f"{through(label)}")
        links = "; ".join(parts)
    return (f"dependency cycle: {links}; {never} "
            "created or updated; break the cycle (an input or depends_on "
            "that leads back, through deferred_output() or an apply, to "
            "the resource that needs it)")
