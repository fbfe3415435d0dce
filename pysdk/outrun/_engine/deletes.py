"""Deletes: at the end of ``up``, what the program no longer declares and
the old halves of replacements; for ``destroy``, everything.  In waves,
dependents first; a resource whose delete failed or was held back keeps
what it depends on.
"""

from __future__ import annotations

import asyncio
import inspect
import pickle
import time
from collections.abc import Mapping
from time import monotonic as _monotonic
from typing import TYPE_CHECKING, Any

from outrun._engine import plan
from outrun._engine.provider_calls import (
    exits_caught,
    provider_exit,
    real_interrupt,
    to_thread,
)
from outrun._engine.recording import copy_state
from outrun._engine.state import ResourceState
from outrun._engine.steps import Step, describe_error

if TYPE_CHECKING:
    from outrun._engine.deployment import Deployment
    from outrun._engine.execution import Executor
    from outrun._engine.recording import Recorder
    from outrun._engine.results import Results


class Deletes:
    """The deletes of one run, and the providers of the state they need
    (unpickled once)."""

    def __init__(self, run: Deployment, executor: Executor,
                 results: Results, recorder: Recorder) -> None:
        self.run = run
        self.executor = executor
        self.results = results
        self.recorder = recorder
        self.display = run.display
        self._providers_loaded: dict[str, Any] | None = None

    async def delete_removed(self) -> None:
        """up: deletes what the program no longer declares and the old
        halves of replacements, dependents first; destroy: everything."""
        registered = self.run.steps
        doomed = {k: st for k, st in self.run.old.items()
                  if st.delete or k not in registered}
        if not doomed:
            return
        # URNs whose delete failed or was held back: what they depend on
        # stays too.
        kept: set[str] = set()
        for wave in plan.delete_order(doomed):
            if self.executor.stopping:
                break
            go = []
            for key in wave:
                st = doomed[key]
                if _needed_by_kept(st, doomed, kept):
                    kept.add(st.urn)
                    self._skipped(st)
                else:
                    go.append(st)
            await self._wave(go, kept)

    def _skipped(self, st: ResourceState) -> None:
        step = self._step(st)
        self.run.skipped += 1
        self.display.step_skipped(
            step, "kept: a resource that depends on it was not deleted")

    def _step(self, st: ResourceState) -> Step:
        """A step for the display: the delete of st."""
        step = Step()
        step.deployment = self.run
        step.urn, step.type, step.name = st.urn, st.type, st.name
        step.op = plan.DELETE
        return step

    async def _wave(self, states: list[ResourceState],
                    kept: set[str]) -> None:
        sem = asyncio.Semaphore(self.executor.parallel)
        providers = self.load_providers()

        async def one(st: ResourceState) -> None:
            async with sem:
                if self.executor.stopping:
                    # Stopped while this one waited for a slot (its
                    # display was lost, say): it stays, and so do the
                    # resources it needs.
                    kept.add(st.urn)
                    self.run.skipped += 1
                    return
                if not await self._delete_one(st, providers):
                    kept.add(st.urn)

        await asyncio.gather(*(one(st) for st in states))

    # The providers of the state ----------------------------------------------

    def providers_from_program(self) -> bool:
        """True if a provider in the state is a class of the program
        itself (its module is __main__), which only running the program
        defines."""
        return any(isinstance(p, Exception) and ref.startswith("__main__.")
                   for ref, p in self.load_providers().items())

    def forget_providers(self) -> None:
        self._providers_loaded = None

    def load_providers(self) -> dict[str, Any]:
        cache = self._providers_loaded
        if cache is None:
            cache = {}
            blobs = self.run.provider_blobs
            for ref, blob in blobs.items():
                try:
                    cache[ref] = pickle.loads(blob)
                except Exception as exc:  # noqa: BLE001
                    cache[ref] = exc
            self._providers_loaded = cache
        return cache

    # One delete --------------------------------------------------------------

    async def _delete_one(self, st: ResourceState,
                          providers: dict[str, Any]) -> bool:
        """Deletes one resource; False if it is still there."""
        step = self._step(st)
        step.started = time.monotonic()
        results = self.results
        if st.protect and not st.delete:
            step.ok = False
            step.error = (f"resource '{st.name}' is protected, so it was not "
                          "deleted; set protect=False on it and run "
                          "`outrun up` first, then delete it")
            self.run.failures.append((st.urn, step.error))
            self.display.step_finished(step)
            results.count("failed")
            return False
        if self.run.dry_run:
            step.ok = True
            step.elapsed = 0.0
            self.display.step_started(step)
            self.display.step_finished(step)
            results.count(plan.DELETE)
            return True
        executor = self.executor
        executor.in_flight += 1
        executor.peak_in_flight = max(executor.peak_in_flight,
                                      executor.in_flight)
        writer = self.recorder.writer
        try:
            if st.custom and not st.retain_on_delete:
                await self._call_delete(st, step, providers)
            writer.remove(st.key)
            await self.recorder.commit()
            step.ok = True
            step.elapsed = time.monotonic() - step.started
            self.display.step_finished(step)
            results.count(plan.DELETE)
            self.run.old.pop(st.key, None)
            return True
        except Exception as exc:  # noqa: BLE001
            step.ok = False
            step.error = describe_error(exc)
            step.elapsed = time.monotonic() - step.started
            self.run.failures.append((st.urn, step.error))
            self.display.step_finished(step)
            results.count("failed")
            return False
        finally:
            executor.in_flight -= 1

    async def _call_delete(self, st: ResourceState, step: Step,
                           providers: Mapping[str, Any]) -> None:
        """The provider's delete(), its intent committed first."""
        provider = providers.get(st.provider)
        if provider is None or isinstance(provider, Exception):
            raise RuntimeError(
                f"the provider of '{st.name}' ({st.provider}) cannot "
                f"be loaded: {provider!r}; make sure its module is "
                "importable from the project folder")
        pending = copy_state(st)
        pending.pending = "deleting"
        self.recorder.writer.put(pending)
        await self.recorder.commit()
        self.display.step_started(step)
        fn = provider.delete
        step.provider = provider
        step.calling, step.call_started = "delete", _monotonic()
        executor = self.executor
        executor.running.add(step)
        try:
            if inspect.iscoroutinefunction(fn):
                await fn(st.id, st.outputs)
            elif not getattr(provider, "blocking", True):
                fn(st.id, st.outputs)
            else:
                await to_thread(exits_caught(fn, "delete()"),
                                st.id, st.outputs)
        except (SystemExit, KeyboardInterrupt) as exc:
            if real_interrupt(exc):
                raise
            raise provider_exit(exc, provider, "delete()") from None
        finally:
            executor.running.discard(step)
            executor.calls_done += 1


def _needed_by_kept(st: ResourceState, doomed: Mapping[str, Any],
                    kept: set[str]) -> bool:
    if not kept:
        return False
    for other in doomed.values():
        if other.urn in kept and other is not st and (
                st.urn in other.deps or other.parent == st.urn):
            return True
    return False
