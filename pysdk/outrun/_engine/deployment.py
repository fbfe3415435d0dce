"""The deployment: what one ``outrun preview`` / ``up`` / ``destroy`` does
with the resources a program declares.  ``Deployment`` is the engine's
implementation of the registration interface (``outrun._monitor``) and
the coordinator of the parts below; it holds what the whole run shares
(the steps by URN, the state read before the run, the counts, failures
and warnings of the summary).

Life of a resource (all on the loop thread unless said otherwise):

1. ``registration``: from the resource's constructor: URN, parent,
   provider, options; every input that is an Output (or holds one, or is
   awaitable) is watched, and so is every ``depends_on`` resource.  When
   the last of them has settled, the inputs are read (values, secretness,
   unknowns, the resources they came from) and the step is ready.
2. ``execution``: at most ``parallel`` steps run provider code at a time
   (the calls themselves: ``provider_calls``).  A provider that says
   ``blocking = False`` runs inline; others run on the native pool (plain
   methods) or on the loop (``async def``), with the operation recorded
   in the state before it starts, so that a run that dies mid-operation
   leaves a note for the next one.
3. ``results`` and ``recording``: the result is queued for the state; one
   batched commit per loop turn writes it, and only then are the
   resource's Outputs resolved, so that nothing that depends on a
   resource starts before the resource is in the state.
4. ``deletes``: after the program and every step, ``up`` deletes what the
   program no longer declares (and the old halves of replacements),
   dependents first; then the stack outputs are stored
   (``stack_outputs``).

Meanwhile ``cycles`` fails resources that wait on each other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from outrun import _monitor
from outrun._engine import stack_outputs
from outrun._engine.cycles import CycleWatch
from outrun._engine.deletes import Deletes
from outrun._engine.execution import Executor
from outrun._engine.provider_calls import parse_duration, runtime
from outrun._engine.recording import Recorder
from outrun._engine.registration import Registry, provider_ref
from outrun._engine.results import Results
from outrun._engine.state import ResourceState
from outrun._engine.steps import (
    DependencyCycleError,
    DependencyFailedError,
    EngineFailure,
    ProviderExitError,
    ResourceFailedError,
    Step,
    describe_error,
)

# Names importers have long found here.
__all__ = [
    "Deployment", "DependencyCycleError", "DependencyFailedError",
    "EngineFailure", "ProviderExitError", "ResourceFailedError", "Step",
    "current", "describe_error", "parse_duration", "provider_ref",
]

_PENDING_WORDS = {"creating": "being created", "updating": "being updated",
                  "deleting": "being deleted"}


def current() -> Deployment | None:
    active = _monitor.active
    return active if isinstance(active, Deployment) else None


class Deployment:
    """One run of the engine against one stack."""

    def __init__(self, *, kind: str, project: str, stack: str, store: Any,
                 display: Any, parallel: int, config: Mapping[str, Any],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.kind = kind
        self.dry_run = kind == "preview"
        self.project = project
        self.stack = stack
        self.store = store
        self.display = display
        self.parallel = max(1, parallel)
        self.config_values = config
        self.loop = loop
        self.old: dict[str, ResourceState] = {}
        self.provider_blobs: Mapping[str, bytes] = {}
        # Creates an earlier run left unfinished: rows to drop unless this
        # run declares the resource again.
        self.stale_creates: dict[str, ResourceState] = {}
        self.steps: dict[str, Step] = {}
        self.unsettled = 0
        self.idle_future: asyncio.Future[None] | None = None
        # The summary's.
        self.counts: dict[str, int] = {}
        self.failures: list[tuple[str, str]] = []
        self.skipped = 0
        self.warnings: list[str] = []
        self.exports: dict[str, Any] = {}
        self.definitions_only = False
        # The stall watchdog's heartbeat, when the run has one.
        self.beat: Any = None
        self.started_at = time.monotonic()
        # The parts (each module's docstring says its job).
        self.recorder = Recorder(self)
        self.results = Results(self, self.recorder)
        self.executor = Executor(self, self.results, self.recorder)
        self.registry = Registry(self, self.executor, self.results,
                                 self.recorder)
        self.deletes = Deletes(self, self.executor, self.results,
                               self.recorder)
        self.cycles = CycleWatch(self)

    # Set-up ----------------------------------------------------------------

    def load(self, old: dict[str, ResourceState],
             providers: Mapping[str, bytes],
             running: str | None = None) -> None:
        """Takes the stack's state (read before the run, so that a state
        error stops the command before the program starts); reports
        operations a previous run left unfinished."""
        self.old = old
        self.provider_blobs = providers
        self.registry.known_providers = set(providers)
        self._take_unfinished(running)
        if self.store is not None and not self.dry_run:
            self.recorder.writer = self.store.writer(self.stack)
        self.cycles.start()
        rt = runtime()
        if rt is not None and rt.debug_pending is not None:
            rt.pending_reporters.append(self.pending_report)
            rt.progress_marks.append(self._moves)
            rt.watch_pending()

    def _take_unfinished(self, running: str | None) -> None:
        """Records of operations a run left unfinished: a warning each;
        the create of one is dropped (and remembered in stale_creates).
        running: the run still going beside this preview, if any."""
        for key, st in list(self.old.items()):
            if st.pending is None:
                continue
            what = _PENDING_WORDS.get(st.pending, st.pending)
            if running is not None:
                # A preview beside a run that is still going: nothing was
                # cut short, and this preview changes nothing either way.
                self.display.diag(
                    "info", f"{st.urn} is {what} by {running}; this "
                    "preview shows it as the state had it before")
                if st.pending == "creating":
                    del self.old[key]
                continue
            msg = (f"{st.urn} was {what} when an earlier run stopped "
                   "before it finished")
            if st.pending == "creating":
                msg += ("; it may exist outside the state: check, and delete "
                        "it by hand if so (Outrun will create it again)")
                del self.old[key]
                self.stale_creates[key] = st
            else:
                msg += "; Outrun will " + (
                    "retry the delete" if st.pending == "deleting"
                    else "compare it again and update it if needed")
            self.warn(msg)

    def _moves(self) -> tuple[int, int, int]:
        return (self.unsettled, self.executor.calls_done, len(self.steps))

    def pending_report(self) -> str:
        """--debug-pending and SIGQUIT: the steps in flight (which provider
        method runs, for how long), queued, and waiting for inputs."""
        return self.executor.pending_report()

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.display.diag("warning", message)

    # The registration interface (outrun._monitor) -------------------------

    def register_resource(self, res: Any, t: str, name: str, custom: bool,
                          props: Mapping[str, Any], opts: Any,
                          remote: bool) -> None:
        self.registry.register(res, t, name, custom, props, opts)

    def register_outputs(self, res: Any, outputs: Mapping[str, Any]) -> None:
        self.registry.register_outputs(res, outputs)

    def export(self, name: str, value: Any) -> None:
        self.exports[name] = value

    def program_returned(self, task: asyncio.Future[Any]) -> None:
        """outrun.run(main): what main returns, if a mapping, is merged
        into the exports."""
        if task.cancelled() or task.exception() is not None:
            return
        result = task.result()
        if isinstance(result, Mapping):
            for name, value in result.items():
                self.exports[str(name)] = value

    def config(self, key: str) -> _monitor.ConfigValue | None:
        return self.config_values.get(key)

    def log(self, level: str, message: str, urn: str | None) -> None:
        if level == "warning":
            self.warnings.append(message)
        elif level == "error":
            self.failures.append(("log.error", message))
        self.display.diag(level, message, urn)

    def invoke(self, token: str, args: Mapping[str, Any],
               provider: Any = None) -> Any:
        raise NotImplementedError(
            f"the provider function '{token}' cannot be called: the engine "
            "serves resources of its built-in and dynamic providers, and "
            "none of them offers functions")

    # Settling ----------------------------------------------------------------

    def step_settled(self) -> None:
        """A step is done, failed or skipped (see Step.settle)."""
        self.unsettled -= 1
        if self.unsettled == 0 and self.idle_future is not None:
            fut, self.idle_future = self.idle_future, None
            if not fut.done():
                fut.set_result(None)

    async def wait_idle(self) -> None:
        """Waits until every registered resource has settled."""
        if self.unsettled:
            if self.idle_future is None:
                self.idle_future = self.loop.create_future()
            await asyncio.shield(self.idle_future)

    def stop(self) -> None:
        """Ctrl-C: no new steps start; those in flight finish."""
        self.executor.stopping = True

    # The end ----------------------------------------------------------------

    async def delete_removed(self) -> None:
        """up: deletes what the program no longer declares and the old
        halves of replacements, dependents first; destroy: everything."""
        await self.deletes.delete_removed()

    def providers_from_program(self) -> bool:
        """True if a provider in the state is a class of the program
        itself (its module is __main__), which only running the program
        defines."""
        return self.deletes.providers_from_program()

    def forget_providers(self) -> None:
        self.deletes.forget_providers()

    def flush_now(self) -> bool:
        """Commits what is queued (at the end of a run) and shows the steps
        it holds as done; False when it could not."""
        return self.recorder.flush_now()

    async def finish_outputs(self) -> dict[str, Any]:
        """Resolves the exports; stores them (up).  Returns them for the
        summary, secrets replaced by '[secret]'."""
        values, secret, shown = await stack_outputs.resolve(
            self.exports, self.failures)
        writer = self.writer
        if writer is not None:
            writer.set_outputs(values, secret)
            for key in self.stale_creates:
                if key not in self.steps:
                    writer.remove(key)
            if not self.flush_now():
                self.failures.append((
                    "outputs",
                    f"the stack's outputs were not saved: {self.fatal}"))
        return shown

    # What the commands read --------------------------------------------------

    @property
    def writer(self) -> Any:
        """The stack's Writer; None in a preview."""
        return self.recorder.writer

    @property
    def fatal(self) -> BaseException | None:
        """Why the state could not be written, once it could not."""
        return self.recorder.fatal

    @property
    def to_resolve(self) -> list[Step]:
        return self.recorder.to_resolve

    @property
    def flush_scheduled(self) -> bool:
        return self.recorder.flush_scheduled

    @property
    def in_flight(self) -> int:
        return self.executor.in_flight

    @property
    def peak_in_flight(self) -> int:
        return self.executor.peak_in_flight

    @property
    def running(self) -> set[Step]:
        return self.executor.running

    @property
    def stopping(self) -> bool:
        return self.executor.stopping
