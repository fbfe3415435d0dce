"""The deployment: what one ``outrun preview`` / ``up`` / ``destroy`` does
with the resources a program declares.

Life of a resource (all on the loop thread unless said otherwise):

1. ``register()`` (from the resource's constructor): URN, parent,
   provider, options; every input that is an Output (or holds one, or is
   awaitable) is watched, and so is every ``depends_on`` resource.
2. When the last of them has settled, the inputs are read (values,
   secretness, unknowns, the resources they came from) and the step joins
   the queue of work.
3. At most ``parallel`` steps run provider code at a time.  A provider
   that says ``blocking = False`` runs inline; others run on the native
   pool (plain methods) or on the loop (``async def``), with the operation
   recorded in the state before it starts, so that a run that dies
   mid-operation leaves a note for the next one.
4. The result is queued for the state; one batched commit per loop turn
   writes it, and only then are the resource's Outputs resolved, so that
   nothing that depends on a resource starts before the resource is in
   the state.
5. After the program and every step, ``up`` deletes what the program no
   longer declares (and the old halves of replacements), dependents
   first; then the stack outputs are stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import pickle
import sys
import time
import types
from time import monotonic as _monotonic
from collections import deque
from collections.abc import Mapping
from typing import Any

from _outrun import UNKNOWN, Output, contains_unknowns
from _outrun import scan_inputs as _scan_inputs

from outrun import _monitor
from outrun._engine import plan
from outrun import _secrets
from outrun._engine.state import ResourceState, StateError
from outrun.dynamic import DiffResult, ResourceProvider


_SCALARS = frozenset((str, int, float, bool, type(None)))
_NO_DEPS: frozenset[str] = frozenset()
_NO_KEYS: frozenset[str] = frozenset()
_EMPTY: Mapping[str, Any] = types.MappingProxyType({})


def current() -> Deployment | None:
    active = _monitor.active
    return active if isinstance(active, Deployment) else None


class EngineFailure(Exception):
    """A rejection the engine made (a failed or skipped resource): reported
    by the run's summary, not as a program traceback."""


class ResourceFailedError(EngineFailure):
    pass


class DependencyFailedError(EngineFailure):
    pass


class DependencyCycleError(EngineFailure):
    """Resources that wait on each other: none of them can ever start."""


class ProviderExitError(Exception):
    """A provider raised SystemExit or KeyboardInterrupt itself: that
    step's failure, not the end of the run."""


class _Outcome:
    """What a step's provider calls came to."""

    op = ""
    news: dict[str, Any] | None = None
    changed: list[str] = []
    replaces: list[str] = []
    id: str | None = None
    outs: Mapping[str, Any] | None = None
    error: BaseException | None = None
    dbr = False


class Step:
    """One resource of this run, and what happens to it."""

    # Defaults, as class attributes: a step stores only what differs, which
    # keeps registration short (a program may declare 100,000 resources).
    deployment: Deployment
    res: Any
    urn = type = name = qtype = provider_ref = mode = ""
    custom = protect = retain = dbr = unknown_inputs = known = False
    # A delete-before-replace whose delete has happened: the old resource
    # is gone, whatever becomes of the create.
    old_deleted = False
    parent: Step | None = None
    provider: Any = None
    ignore: tuple[str, ...] = ()
    roc: tuple[str, ...] = ()
    alias_keys: tuple[str, ...] = ()
    secret_outs: tuple[str, ...] = ()
    import_id: str | None = None
    timeouts: Any = None
    keys: Any = ()
    props: Mapping[str, Any] | None = None
    watched: list[tuple[str | None, Output[Any]]] | None = None
    waiting = 0
    deps: frozenset[str] | set[str] = _NO_DEPS
    inputs: Mapping[str, Any] = _EMPTY
    secret_inputs: frozenset[str] = _NO_KEYS
    out_secret: frozenset[str] = _NO_KEYS
    old: ResourceState | None = None
    op = ""
    started = 0.0
    elapsed: float | None = None
    # The provider method running for this step, and since when
    # (--debug-pending names it).
    calling: str | None = None
    call_started = 0.0
    ok: bool | None = None
    error: str | None = None
    detail: str | None = None
    values: Mapping[str, Any] | None = None
    id_value: str | None = None
    pending_outs: dict[str, Output[Any]] | None = None
    children: list[Step] | None = None
    seq = 0
    settled = 0  # 0 pending, 1 done, 2 failed, 3 skipped

    # Outputs of the resource ------------------------------------------------

    def output(self, key: str) -> Output[Any]:
        """The Output of one attribute ("id", "urn", "__done", or a
        property), made on first use."""
        if self.settled == 1:
            return self._settled_output(key)
        if self.settled >= 2:
            out = Output._pending()
            out._reject(self._failure())
            return out
        pend = self.pending_outs
        if pend is None:
            pend = self.pending_outs = {}
        out = pend.get(key)
        if out is None:
            out = pend[key] = Output._pending()
        return out

    def self_deps(self) -> frozenset[Any]:
        """{the resource}, one frozenset shared by all its Outputs."""
        deps = self.__dict__.get("_self_deps")
        if deps is None:
            deps = self._self_deps = frozenset((self.res,))
        return deps

    def _settled_output(self, key: str) -> Output[Any]:
        deps = self.self_deps()
        if key == "id":
            # Known once the step is done, and in a preview of an update.
            known = self.known or (self.id_value is not None
                                   and not self.deployment.definitions_only)
            return Output._resolved(self.id_value if known else UNKNOWN,
                                    known, False, deps)
        if key == "__done":
            return Output._resolved(None, True, False, deps)
        values = self.values or _EMPTY
        if key not in values and key in self.inputs:
            values = self.inputs
        if self.deployment.definitions_only:
            value, known = UNKNOWN, False
        elif key in values:
            value = values[key]
            known = self.known or (self.op == plan.SAME)
            if self.deployment.dry_run and value is UNKNOWN:
                known = False
        elif self.deployment.dry_run and self.op != plan.SAME:
            value, known = UNKNOWN, False
        else:
            value, known = None, True
        return Output._resolved(value, known, key in self.out_secret, deps)

    def _failure(self) -> EngineFailure:
        if self.settled == 3:
            return DependencyFailedError(
                f"resource '{self.name}' was not changed: {self.error}")
        return ResourceFailedError(
            f"resource '{self.name}' ({self.type}) failed: {self.error}")

    def settle(self, how: int) -> None:
        self.settled = how
        pend = self.pending_outs
        if pend is None:
            return
        self.pending_outs = None
        if how == 1:
            for key, out in pend.items():
                facts = self._settled_output(key)._peek()
                out._resolve(facts[1], facts[2], facts[3], self.self_deps())
        else:
            exc = self._failure()
            for out in pend.values():
                out._reject(exc)


def provider_ref(provider: Any, cache: dict[Any, tuple[str, bytes]]
                 ) -> tuple[str, bytes]:
    """A short name for a provider and its pickled form; providers without
    instance state share one entry per class."""
    key: Any = type(provider) if not getattr(provider, "__dict__", None) \
        else id(provider)
    hit = cache.get(key)
    if hit is not None:
        return hit
    try:
        blob = pickle.dumps(provider, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - reported to the user
        raise TypeError(
            f"the provider {type(provider).__qualname__} cannot be saved in "
            f"the state ({exc}); define it at module level and keep only "
            "picklable values on the instance") from None
    cls = type(provider)
    ref = (f"{cls.__module__}.{cls.__qualname__}:"
           f"{hashlib.blake2b(blob, digest_size=6).hexdigest()}")
    cache[key] = (ref, blob)
    return ref, blob


def _method_kind(cls: type, name: str) -> str:
    """'base' (not overridden), 'async' or 'sync'."""
    fn = getattr(cls, name, None)
    if fn is None or fn is getattr(ResourceProvider, name, None):
        return "base"
    return "async" if inspect.iscoroutinefunction(fn) else "sync"


class Deployment:
    """One run of the engine against one stack."""

    def __init__(self, *, kind: str, project: str, stack: str, store: Any,
                 display: Any, parallel: int, config: Mapping[str, Any],
                 loop: asyncio.AbstractEventLoop,
                 target_refresh: bool = False) -> None:
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
        self.writer: Any = None
        self.steps: dict[str, Step] = {}
        self.seq = 0
        self.queue: deque[Step] = deque()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.pumping = False
        self.unsettled = 0
        self.idle_future: asyncio.Future[None] | None = None
        self.to_resolve: list[Step] = []
        self.commit_waiters: list[asyncio.Future[None]] = []
        # Steps done whose records wait in the writer: the display shows
        # them done only once the state holds them (see _flush, _fatal).
        self.awaiting_commit: list[Step] = []
        self.flush_scheduled = False
        self.counts: dict[str, int] = {}
        self.failures: list[tuple[str, str]] = []
        self.skipped = 0
        self.warnings: list[str] = []
        self.exports: dict[str, Any] = {}
        self.provider_cache: dict[type, tuple[str, str]] = {}
        self.provider_cache_blobs: dict[Any, tuple[str, bytes]] = {}
        self.urn_prefix = f"urn:pulumi:{stack}::{project}::"
        self.known_providers: set[str] = set()
        self.method_kinds: dict[type, dict[str, str]] = {}
        self.stopping = False
        self.started_at = time.monotonic()
        # Creates an earlier run left unfinished: rows to drop unless this
        # run declares the resource again.
        self.stale_creates: dict[str, ResourceState] = {}
        self.provider_blobs: Mapping[str, bytes] = {}
        self.fatal: BaseException | None = None
        self.definitions_only = False
        self.beat: Any = None
        # The cycle watch (see _cycle_tick): what the run looked like at
        # the last search that found nothing, and searches to skip.
        self.cycle_handle: asyncio.TimerHandle | None = None
        self.cycle_seen: Any = None
        self.cycle_skips = 0
        # Steps with provider work in flight, and provider calls finished
        # (--debug-pending's report and progress).
        self.running: set[Step] = set()
        self.calls_done = 0

    # Set-up ----------------------------------------------------------------

    def load(self, old: dict[str, ResourceState],
             providers: Mapping[str, bytes],
             running: str | None = None) -> None:
        """Takes the stack's state (read before the run, so that a state
        error stops the command before the program starts); reports
        operations a previous run left unfinished."""
        self.old = old
        self.provider_blobs = providers
        self.known_providers = set(providers)
        for key, st in list(self.old.items()):
            if st.pending is None:
                continue
            what = {"creating": "being created", "updating": "being updated",
                    "deleting": "being deleted"}.get(st.pending, st.pending)
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
        if self.store is not None and not self.dry_run:
            self.writer = self.store.writer(self.stack)
        self.cycle_handle = self.loop.call_later(CYCLE_CHECK_S,
                                                 self._cycle_tick)
        from outrun import _host

        rt = _host.current()
        if rt is not None and rt.debug_pending is not None:
            rt.pending_reporters.append(self.pending_report)
            rt.progress_marks.append(self._moves)
            rt.watch_pending()

    def _moves(self) -> tuple[int, int, int]:
        return (self.unsettled, self.calls_done, len(self.steps))

    def pending_report(self) -> str:
        """--debug-pending and SIGQUIT: the steps in flight (which provider
        method runs, for how long), queued, and waiting for inputs."""
        now = _monotonic()
        waiting = [s for s in self.steps.values()
                   if not s.settled and s.watched is not None]
        lines = [f"the engine: {len(self.running)} step(s) in flight, "
                 f"{len(self.queue)} queued, {len(waiting)} waiting for "
                 "their inputs"]
        for step in sorted(self.running, key=lambda s: s.started):
            what = f"{step.op or 'plan'} of {_label(step)}"
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
            lines.append(f"  {_label(step)} waits for "
                         f"{', '.join(keys) or 'its inputs'}")
        if len(waiting) > 20:
            lines.append(f"  ... and {len(waiting) - 20} more waiting")
        return "\n".join(lines)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.display.diag("warning", message)

    # The rest of the registration interface (outrun._monitor) -------------

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

    # Registration (from Resource.__init__) ------------------------------

    def register_resource(self, res: Any, t: str, name: str, custom: bool,
                          props: Mapping[str, Any], opts: Any,
                          remote: bool) -> None:
        step = Step()
        step.deployment = self
        step.res = res
        step.type = t
        step.name = name
        step.custom = custom
        if self.definitions_only:
            # destroy runs the program only for the classes it defines:
            # its resources are not acted on, and read as unknown.
            step.keys = props.keys()
            step.urn = self.urn_prefix + t + "::" + name
            step.settled = 1
            res.__dict__["_step"] = step
            return
        pstep = None
        if opts is not None and opts.parent is not None:
            parent = opts.parent
            pstep = getattr(parent, "_step", None)
            if pstep is None or not isinstance(parent, _resource_class()):
                raise TypeError("Resource parent is not a valid Resource")
            qualified = pstep.qtype + "$" + t
            step.parent = pstep
        else:
            qualified = t
        step.qtype = qualified
        urn = self.urn_prefix + qualified + "::" + name
        steps = self.steps
        if not len(steps) & 63 and self.beat is not None:
            # Declaring resources is the run's work, not a stall: tell
            # the watchdog the loop thread is making progress.
            self.beat()
        if urn in steps:
            raise ValueError(
                f"Duplicate resource URN '{urn}'; try giving it a unique "
                "name")
        step.urn = urn
        step.keys = props.keys()
        self.seq += 1
        step.seq = self.seq
        secret_outs = type(res)._secret_outputs
        provider = getattr(res, "_provider_impl", None)
        if opts is None:
            if pstep is not None and pstep.protect:
                step.protect = True
        else:
            secret_outs = self._options(step, opts, res, secret_outs)
            if provider is None and isinstance(opts.provider,
                                               ResourceProvider):
                provider = opts.provider
        if secret_outs:
            step.secret_outs = secret_outs
        res.__dict__["_step"] = step
        steps[urn] = step
        if pstep is not None:
            if pstep.children is None:
                pstep.children = []
            pstep.children.append(step)
        if provider is not None:
            step.provider = provider
            info = self.provider_cache.get(type(provider))
            if info is None or provider.__dict__:
                info = self._provider_ref(provider)
            step.provider_ref, step.mode = info
        elif custom:
            raise TypeError(
                f"no provider for resource '{name}' of type '{t}': Outrun "
                "runs providers written in Python (outrun.dynamic."
                "ResourceProvider) and its built-in ones "
                "(outrun.providers.random)")
        else:
            step.mode = "inline"
        self.unsettled += 1

        # What the step waits for: every input that is not a plain value.
        watched = _scan_inputs(props) if type(props) is dict \
            else _scan_inputs(dict(props))
        if opts is not None:
            deps_on = opts.depends_on
            if deps_on is not None:
                if watched is None:
                    watched = []
                for item in deps_on if isinstance(deps_on, (list, tuple)) \
                        else (deps_on,):
                    watched.extend(self._depends_on(item))
        if pstep is not None and pstep.custom:
            if watched is None:
                watched = []
            watched.append((None, pstep.output("__done")))
        if watched is None:
            # Only plain values: the inputs are the props.
            step.inputs = props
            self._ready(step)
            return
        step.watched = watched
        step.props = props
        step.waiting = len(watched)
        cb = self._input_settled_cb(step)
        for _, out in watched:
            out._watch(cb)

    def _options(self, step: Step, opts: Any, res: Any,
                 secret_outs: tuple[str, ...]) -> tuple[str, ...]:
        pstep = step.parent
        protect = opts.protect
        if protect is None and pstep is not None:
            protect = pstep.protect
        step.protect = bool(protect)
        step.retain = bool(opts.retain_on_delete)
        step.dbr = bool(opts.delete_before_replace)
        step.ignore = tuple(opts.ignore_changes or ())
        step.roc = tuple(opts.replace_on_changes or ())
        step.import_id = opts.import_
        step.timeouts = opts.custom_timeouts
        if opts.additional_secret_outputs:
            secret_outs = tuple(secret_outs) + tuple(
                opts.additional_secret_outputs)
        step.alias_keys = self._alias_urns(opts, step.type, step.name,
                                           pstep) if opts.aliases else ()
        return secret_outs

    def _provider_ref(self, provider: Any) -> tuple[str, str]:
        """(the provider's name in the state, how its methods run); saves
        the pickled provider the first time."""
        ref, blob = provider_ref(provider, self.provider_cache_blobs)
        info = (ref, self._mode(provider))
        if not provider.__dict__:
            self.provider_cache[type(provider)] = info
        if ref not in self.known_providers:
            if self.writer is not None:
                self.writer.put_provider(ref, blob)
            self.known_providers.add(ref)
        return info

    def _depends_on(self, item: Any) -> list[tuple[None, Output[Any]]]:
        if item is None:
            return []
        if isinstance(item, _resource_class()):
            out = []
            for s in _expand(item._step):
                out.append((None, s.output("__done")))
            return out
        if isinstance(item, Output) or inspect.isawaitable(item):
            # An Input of a resource (or a list of them): wait for it, then
            # for the resources it names.
            return [(None, Output.from_input(item).apply(
                self._wait_for_resources))]
        raise TypeError(f"'depends_on' was passed a value {item!r} that was "
                        "not a Resource.")

    def _wait_for_resources(self, value: Any) -> Any:
        items = value if isinstance(value, (list, tuple)) else [value]
        outs = []
        for item in items:
            if item is None:
                continue
            if not isinstance(item, _resource_class()):
                raise TypeError(f"'depends_on' was passed a value {item!r} "
                                "that was not a Resource.")
            outs.extend(s.output("__done") for s in _expand(item._step))
        return Output.all(*outs) if outs else None

    def _alias_urns(self, opts: Any, t: str, name: str,
                    pstep: Step | None) -> tuple[str, ...]:
        urns = []
        for alias in opts.aliases:
            if isinstance(alias, str):
                urns.append(alias)
                continue
            a_name = name if alias.name is ... else alias.name
            a_type = t if alias.type_ is ... else alias.type_
            a_stack = self.stack if alias.stack is ... else alias.stack
            a_project = self.project if alias.project is ... \
                else alias.project
            parent_qtype = None
            if alias.parent is ...:
                parent_qtype = pstep.qtype if pstep is not None else None
            elif isinstance(alias.parent, str):
                # The old parent's URN: its qualified type is the third
                # part (urn:pulumi:STACK::PROJECT::QTYPE::NAME).
                parts = alias.parent.split("::", 3)
                if len(parts) != 4 or not parts[0].startswith(
                        "urn:pulumi:"):
                    raise ValueError(
                        f"Alias parent {alias.parent!r} is not a URN: "
                        "write it as urn:pulumi:STACK::PROJECT::TYPE::NAME")
                parent_qtype = parts[2]
            elif alias.parent is not None:
                step_of = getattr(alias.parent, "_step", None)
                parent_qtype = step_of.qtype if step_of is not None else None
            qualified = a_type
            if parent_qtype is not None:
                qualified = parent_qtype + "$" + a_type
            urns.append(f"urn:pulumi:{a_stack}::{a_project}::{qualified}"
                        f"::{a_name}")
        return tuple(urns)

    def _mode(self, provider: Any) -> str:
        cls = type(provider)
        kinds = self.method_kinds.get(cls)
        if kinds is None:
            kinds = {m: _method_kind(cls, m) for m in
                     ("check", "diff", "create", "read", "update", "delete")}
            kinds["mode"] = (
                "async" if "async" in kinds.values() else
                "inline" if not getattr(provider, "blocking", True) else
                "pool")
            self.method_kinds[cls] = kinds
        return kinds["mode"]

    def _input_settled_cb(self, step: Step) -> Any:
        def settled(_out: Any) -> None:
            if step.settled:
                # Failed while it waited (a dependency cycle): its inputs
                # settle after it, and change nothing.
                return
            step.waiting -= 1
            if step.waiting == 0:
                self._inputs_ready(step)
        return settled

    # Inputs ready -----------------------------------------------------------

    def _inputs_ready(self, step: Step) -> None:
        props = step.props
        inputs = dict(props) if props else {}
        secret: list[str] = []
        unknown = False
        deps: set[str] = set()
        failed: BaseException | None = None
        failed_key = None
        for key, out in step.watched:
            state, value, known, is_secret, odeps = out._peek()
            if state == "rejected":
                if failed is None or isinstance(failed, EngineFailure):
                    failed, failed_key = value, key
                continue
            if odeps:
                for r in odeps:
                    s = getattr(r, "_step", None)
                    if s is not None and s is not step:
                        deps.add(s.urn)
            if key is None:
                continue
            if not known:
                unknown = True
                value = UNKNOWN
            if is_secret:
                secret.append(key)
                _secrets.add(value)
            inputs[key] = value
        step.watched = None
        step.props = None
        if step.parent is not None:
            deps.discard(step.parent.urn)
        step.deps = deps
        if failed is not None:
            if isinstance(failed, EngineFailure):
                step.error = str(failed)
                self._skip(step, str(failed))
            else:
                where = f"its input '{failed_key}'" if failed_key \
                    else "one of its dependencies"
                self._skip(step, f"{where} failed: "
                                 f"{describe_error(failed)}")
            return
        step.inputs = inputs
        if secret:
            step.secret_inputs = frozenset(secret)
        step.unknown_inputs = unknown
        self._ready(step)

    def _ready(self, step: Step) -> None:
        old = self.old.get(step.urn)
        if old is None and step.alias_keys:
            for alias in step.alias_keys:
                old = self.old.get(alias)
                if old is not None:
                    # Taken over under the new URN.
                    self._aliased(alias, step)
                    break
        if old is not None:
            step.old = old
        if not step.custom:
            self._component(step)
            return
        if step.mode == "inline" and not self.stopping:
            # Quick and pure: no slot to wait for, nothing in flight.
            step.started = _monotonic()
            self._finish_recorded(step, self._run_inline(step), False)
            return
        self.queue.append(step)
        if not self.pumping:
            self._pump()

    def _aliased(self, alias: str, step: Step) -> None:
        if self.writer is not None:
            self.writer.remove(alias)
        # Kept under the new URN's key, with the old URN inside, so that
        # the record is rewritten under the new one.
        self.old[step.urn] = self.old.pop(alias)

    def _component(self, step: Step) -> None:
        old = step.old
        step.values = {}
        step.out_secret = frozenset()
        step.known = True
        if old is None:
            step.op = plan.CREATE
        else:
            step.op = plan.SAME
        self._record(step, step.op, None, {}, write=old is None
                     or self._meta_changed(old, step, {}))
        if step.op == plan.SAME:
            self.display.same(step)
        self._count(step.op)
        step.settle(1)
        self._done(step)

    def register_outputs(self, res: Any, outputs: Mapping[str, Any]) -> None:
        step = res._step
        out = Output.from_input(dict(outputs))

        def store(_o: Any) -> None:
            state, value, known, secret, _deps = out._peek()
            if state != "resolved" or not known or step.settled != 1:
                return
            step.values = value
            if secret:
                step.out_secret = frozenset(value)
            self._record(step, step.op, None, value, news=step.inputs)
            if self.writer is not None:
                self._schedule_flush()
        out._watch(store)

    # Work queue -------------------------------------------------------------

    def _pump(self) -> None:
        self.pumping = True
        try:
            queue = self.queue
            while queue and self.in_flight < self.parallel:
                if self.stopping:
                    while queue:
                        self._skip(queue.popleft(), "the run was interrupted")
                    break
                step = queue.popleft()
                self.in_flight += 1
                if self.in_flight > self.peak_in_flight:
                    self.peak_in_flight = self.in_flight
                step.started = time.monotonic()
                if step.mode == "inline":
                    self._finish_recorded(step, self._run_inline(step))
                else:
                    self.loop.create_task(self._run_threaded(step))
        finally:
            self.pumping = False

    def _run_inline(self, step: Step) -> _Outcome:
        """A provider that never blocks: planned and run right here."""
        outcome = _Outcome()
        call = step.provider
        if step.old is None and not (step.unknown_inputs or step.import_id):
            # The common case, a create, without the general planning.
            try:
                news = step.inputs
                if self.method_kinds[type(call)]["check"] != "base":
                    news = _checked(call, _EMPTY, news)
                outcome.news = news
                outcome.op = plan.CREATE
                if not self.dry_run:
                    outcome.id, outcome.outs = _create_call(call, call, news)
            except Exception as exc:  # noqa: BLE001 - the step's error
                outcome.error = exc
            except (SystemExit, KeyboardInterrupt) as exc:
                if _real_interrupt(exc):
                    raise
                outcome.error = _provider_exit(exc, call, "create()")
            return outcome
        planning = True
        try:
            self._plan_step(step, outcome, call)
            planning = False
            if not self.dry_run and outcome.op != plan.SAME:
                self._operate_step(step, outcome, call)
        except Exception as exc:  # noqa: BLE001 - the step's error
            outcome.error = exc
        except (SystemExit, KeyboardInterrupt) as exc:
            if _real_interrupt(exc):
                raise
            outcome.error = _provider_exit(
                exc, call, "check() or diff()" if planning else
                {plan.IMPORT: "read()", plan.UPDATE: "update()"}.get(
                    outcome.op, "create()"))
        return outcome

    async def _run_threaded(self, step: Step) -> None:
        """A provider that may block: planned on a pool thread; if there is
        something to do, the operation is recorded in the state, and then
        run on a pool thread.  Its async methods run on the loop while the
        pool thread waits for them."""
        call = _Threaded(step.provider, self.loop, step.timeouts, step)
        outcome = _Outcome()
        self.running.add(step)
        try:
            outcome = await _to_thread(self._plan_safe, step, outcome, call)
            if outcome.error is None and not self.dry_run \
                    and outcome.op != plan.SAME:
                self._intent(step, outcome)
                await self._commit()
                if outcome.op == plan.REPLACE and outcome.dbr \
                        and step.old is not None:
                    # The delete first, on its own, and the state told
                    # before the create starts: a run that dies during
                    # the create then knows the old one is gone and the
                    # new one may exist.
                    outcome = await _to_thread(self._delete_old_safe, step,
                                               outcome, call)
                    if outcome.error is None:
                        self._create_intent(step, outcome)
                        await self._commit()
                if outcome.error is None:
                    outcome = await _to_thread(self._operate_safe, step,
                                               outcome, call)
        except Exception as exc:  # noqa: BLE001 - the pool or the state
            outcome.error = exc
        except BaseException as exc:
            # Cancelled (Ctrl-C): the step ends as failed, so that nothing
            # waits for it, and the cancellation goes on.
            outcome.error = exc
            self._finish_recorded(step, outcome)
            raise
        finally:
            self.running.discard(step)
            self.calls_done += 1
        self._finish_recorded(step, outcome)

    def _finish_recorded(self, step: Step, outcome: _Outcome,
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
            self._fail(step, exc, keep_intent=done)
            if slot and not self.pumping and self.queue:
                self._pump()

    def _plan_safe(self, step: Step, outcome: _Outcome,
                   call: Any) -> _Outcome:
        return _catching(self._plan_step, step, outcome, call)

    def _delete_old_safe(self, step: Step, outcome: _Outcome,
                         call: Any) -> _Outcome:
        return _catching(self._delete_old, step, outcome, call)

    def _delete_old(self, step: Step, outcome: _Outcome, call: Any) -> None:
        """The delete of a delete-before-replace (outcome: _catching's
        signature)."""
        old = step.old
        if not old.retain_on_delete:
            call.delete(old.id, old.outputs)
        step.old_deleted = True

    def _operate_safe(self, step: Step, outcome: _Outcome,
                      call: Any) -> _Outcome:
        return _catching(self._operate_step, step, outcome, call)

    # Provider calls (inline or on a pool thread) ---------------------------

    def _plan_step(self, step: Step, outcome: _Outcome, call: Any) -> None:
        kinds = self.method_kinds[type(step.provider)]
        old = step.old
        news = step.inputs
        if old is not None and step.ignore:
            news = plan.apply_ignore_changes(old.inputs, news, step.ignore)
        if step.unknown_inputs:
            # A preview with inputs not known yet: the provider's diff (if
            # it has one) says whether they would replace; otherwise the
            # step is an update.
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
            return
        if kinds["check"] != "base":
            news = _checked(call, old.inputs if old is not None else _EMPTY,
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

    def _operate_step(self, step: Step, outcome: _Outcome,
                      call: Any) -> None:
        op = outcome.op
        news = outcome.news or _EMPTY
        old = step.old
        if op == plan.CREATE or op == plan.REPLACE:
            if op == plan.REPLACE and outcome.dbr and old is not None \
                    and not step.old_deleted:
                # Inline: no state between the delete and the create.
                self._delete_old(step, outcome, call)
            outcome.id, outcome.outs = _create_call(call, step.provider, news)
        elif op == plan.UPDATE:
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

    # Results ----------------------------------------------------------------

    def _finished(self, step: Step, outcome: _Outcome,
                  slot: bool = True) -> None:
        if slot:
            self.in_flight -= 1
        step.elapsed = _monotonic() - step.started
        op = step.op = outcome.op or plan.CREATE
        if outcome.error is not None:
            self._fail(step, outcome.error)
        elif op == plan.CREATE and not self.dry_run:
            self._created(step, outcome, outcome.news or step.inputs)
        else:
            if outcome.changed:
                step.detail = ", ".join(outcome.changed)
            self._succeeded(step, outcome)
        if slot and not self.pumping and self.queue:
            self._pump()

    def _succeeded(self, step: Step, outcome: _Outcome) -> None:
        op = outcome.op
        news = outcome.news
        if news is None:
            news = step.inputs
        old = step.old
        if op == plan.SAME:
            assert old is not None
            step.values = old.outputs
            step.out_secret = old.secret_outputs
            step.id_value = old.id
            step.known = True
            self._record(step, op, old.id, old.outputs,
                         write=self._meta_changed(old, step, old.outputs),
                         news=old.inputs)
            self.display.same(step)
            self._count(op)
            self._to_resolve(step)
            return
        if self.dry_run:
            values = dict(news)
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
                old_copy = _copy_state(old)
                old_copy.delete = True
                self.writer.put(old_copy)
                self.old[old_copy.key] = old_copy
            self._record(step, op, outcome.id, values, news=news)
        if self.dry_run:
            self.display.step_started(step)
        step.ok = True
        if self.writer is None:
            self.display.step_finished(step)
        else:
            self.awaiting_commit.append(step)
        self._count(op)
        self._to_resolve(step)

    def _created(self, step: Step, outcome: _Outcome,
                 news: Mapping[str, Any]) -> None:
        """_succeeded() for the most common step, a create."""
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
                step.inputs = _EMPTY
        if step.secret_inputs or step.secret_outs:
            step.out_secret = frozenset(
                k for k in values if k in step.secret_inputs
                or k in step.secret_outs)
        step.id_value = outcome.id
        step.known = True
        writer = self.writer
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
            self.awaiting_commit.append(step)
        counts = self.counts
        counts["create"] = counts.get("create", 0) + 1
        self._to_resolve(step)

    def _record(self, step: Step, op: str, id_: str | None,
                outputs: Mapping[str, Any], *, write: bool = True,
                news: Mapping[str, Any] | None = None) -> None:
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

    def _meta_changed(self, old: ResourceState, step: Step,
                      outputs: Mapping[str, Any]) -> bool:
        parent = step.parent.urn if step.parent is not None else None
        return (old.parent != parent or old.protect != step.protect
                or old.retain_on_delete != step.retain
                or old.provider != step.provider_ref
                or old.deps != tuple(sorted(step.deps))
                or old.pending is not None or old.urn != step.urn)

    def _intent(self, step: Step, outcome: _Outcome) -> None:
        """Records in the state the operation about to start, so that a run
        that dies during it leaves a note for the next one."""
        step.op = outcome.op
        self.display.step_started(step)
        if self.writer is None:
            return
        old = step.old
        op = outcome.op
        if op == plan.UPDATE or (op == plan.REPLACE and outcome.dbr):
            st = _copy_state(old)
            st.pending = "updating" if op == plan.UPDATE else "deleting"
            self.writer.put(st)
            return
        if op == plan.REPLACE:
            # The old resource waits in its delete slot while its
            # replacement is made.
            gone = _copy_state(old)
            gone.delete = True
            self.writer.put(gone)
        self._create_intent(step, outcome)

    def _create_intent(self, step: Step, outcome: _Outcome) -> None:
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

    def _fail(self, step: Step, exc: BaseException,
              keep_intent: bool = False) -> None:
        if self.writer is not None and not keep_intent:
            self._undo_record(step)
        step.ok = False
        step.error = describe_error(exc) \
            if not isinstance(exc, (plan.ProtectedError, ValueError)) \
            else str(exc)
        self.failures.append((step.urn, step.error))
        self.display.step_finished(step)
        self._count("failed")
        step.settle(2)
        self._done(step)

    def _undo_record(self, step: Step) -> None:
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

    def _skip(self, step: Step, reason: str) -> None:
        step.error = reason
        self.skipped += 1
        self.display.step_skipped(step, reason)
        step.settle(3)
        self._done(step)

    def _count(self, op: str) -> None:
        self.counts[op] = self.counts.get(op, 0) + 1

    def _to_resolve(self, step: Step) -> None:
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
            self._done(step)
            return
        self._schedule_flush()
        if step.mode == "inline":
            step.settle(1)
            self._done(step)
            return
        self.to_resolve.append(step)

    # Commits ----------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _commit(self) -> asyncio.Future[None]:
        fut = self.loop.create_future()
        self.commit_waiters.append(fut)
        self._schedule_flush()
        return fut

    def _flush(self) -> None:
        self.flush_scheduled = False
        if self.writer is not None:
            try:
                self.writer.flush(self.beat)
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
        for step in steps:
            step.settle(1)
            self._done(step)

    # Dependency cycles -------------------------------------------------------

    def _cycle_tick(self) -> None:
        """Every CYCLE_CHECK_S while the run lasts: when the engine is idle
        (no step queued, in flight or waiting for its commit, no pool work)
        and resources still wait, looks for resources waiting on each
        other, and fails them (see break_cycles).  A cycle is certain, not
        guessed from a quiet spell: slow providers or offloads never cause
        a false alarm, they only keep the search from running."""
        self.cycle_handle = None
        if _monitor.active is not self:
            return
        if self._engine_idle():
            seen = self._progress_mark()
            if seen != self.cycle_seen or self.cycle_skips <= 0:
                self.cycle_seen = seen
                # Unchanged since a search that found nothing: search
                # again only now and then (a deferred_output resolved
                # later can close a cycle without settling anything).
                self.cycle_skips = 8
                if self.break_cycles():
                    self.cycle_seen = None
            else:
                self.cycle_skips -= 1
        self.cycle_handle = self.loop.call_later(CYCLE_CHECK_S,
                                                 self._cycle_tick)

    def _engine_idle(self) -> bool:
        if not self.unsettled or self.in_flight or self.queue \
                or self.to_resolve or self.flush_scheduled or self.pumping:
            return False
        import _outrun

        stats = _outrun.pool_stats()
        return stats is None or not (stats["queued"] or stats["running"])

    def _progress_mark(self) -> tuple[int, ...]:
        import _outrun

        sched = _outrun.scheduler()
        return (sched.settled_count, sched.pending_count, self.unsettled,
                len(self.steps))

    def break_cycles(self) -> int:
        """Fails every resource that is part of a dependency cycle (its
        dependents are then skipped, as after any failure); returns how
        many.  The graph: a waiting resource -> its pending inputs (and
        depends_on), an Output -> the pending Outputs it waits on, a
        resource's own pending Output -> the resource."""
        owner: dict[int, Step] = {}
        waiting: list[Step] = []
        for step in self.steps.values():
            if step.settled:
                continue
            if step.pending_outs:
                for out in step.pending_outs.values():
                    owner[id(out)] = step
            if step.watched is not None:
                waiting.append(step)
        if not waiting:
            return 0
        cycles = _find_cycles(waiting, owner)
        failed = 0
        for cycle in cycles:
            exc = DependencyCycleError(_describe_cycle(cycle))
            for step, _ in cycle:
                if not step.settled:
                    step.watched = None
                    step.props = None
                    self._fail(step, exc)
                    failed += 1
        return failed

    # Idle tracking ------------------------------------------------------------

    def _done(self, step: Step) -> None:
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

    # Exports ----------------------------------------------------------------

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

    # The end ----------------------------------------------------------------

    async def delete_removed(self) -> None:
        """up: deletes what the program no longer declares and the old
        halves of replacements, dependents first; destroy: everything."""
        registered = self.steps
        doomed = {k: st for k, st in self.old.items()
                  if st.delete or k not in registered}
        if not doomed:
            return
        # URNs whose delete failed or was held back: what they depend on
        # stays too.
        kept: set[str] = set()
        for wave in plan.delete_order(doomed):
            if self.stopping:
                break
            go = []
            for key in wave:
                st = doomed[key]
                if self._needed_by_kept(st, doomed, kept):
                    kept.add(st.urn)
                    self._delete_skipped(st)
                else:
                    go.append(st)
            await self._delete_wave(go, kept)

    @staticmethod
    def _needed_by_kept(st: ResourceState, doomed: Mapping[str, Any],
                        kept: set[str]) -> bool:
        if not kept:
            return False
        for other in doomed.values():
            if other.urn in kept and other is not st and (
                    st.urn in other.deps or other.parent == st.urn):
                return True
        return False

    def _delete_skipped(self, st: ResourceState) -> None:
        step = Step()
        step.deployment = self
        step.urn, step.type, step.name = st.urn, st.type, st.name
        step.op = plan.DELETE
        self.skipped += 1
        self.display.step_skipped(
            step, "kept: a resource that depends on it was not deleted")

    async def _delete_wave(self, states: list[ResourceState],
                           kept: set[str]) -> None:
        sem = asyncio.Semaphore(self.parallel)
        providers = self._load_providers()

        async def one(st: ResourceState) -> None:
            async with sem:
                if self.stopping:
                    # Stopped while this one waited for a slot (its
                    # display was lost, say): it stays, and so do the
                    # resources it needs.
                    kept.add(st.urn)
                    self.skipped += 1
                    return
                if not await self._delete_one(st, providers):
                    kept.add(st.urn)

        await asyncio.gather(*(one(st) for st in states))

    def providers_from_program(self) -> bool:
        """True if a provider in the state is a class of the program
        itself (its module is __main__), which only running the program
        defines."""
        return any(isinstance(p, Exception) and ref.startswith("__main__.")
                   for ref, p in self._load_providers().items())

    def forget_providers(self) -> None:
        self._providers_loaded = None

    def _load_providers(self) -> dict[str, Any]:
        cache = getattr(self, "_providers_loaded", None)
        if cache is None:
            cache = {}
            blobs = self.provider_blobs
            for ref, blob in blobs.items():
                try:
                    cache[ref] = pickle.loads(blob)
                except Exception as exc:  # noqa: BLE001
                    cache[ref] = exc
            self._providers_loaded = cache
        return cache

    async def _delete_one(self, st: ResourceState,
                          providers: dict[str, Any]) -> bool:
        """Deletes one resource; False if it is still there."""
        step = Step()
        step.deployment = self
        step.urn, step.type, step.name = st.urn, st.type, st.name
        step.op = plan.DELETE
        step.started = time.monotonic()
        if st.protect and not st.delete:
            step.ok = False
            step.error = (f"resource '{st.name}' is protected, so it was not "
                          "deleted; set protect=False on it and run "
                          "`outrun up` first, then delete it")
            self.failures.append((st.urn, step.error))
            self.display.step_finished(step)
            self._count("failed")
            return False
        if self.dry_run:
            step.ok = True
            step.elapsed = 0.0
            self.display.step_started(step)
            self.display.step_finished(step)
            self._count(plan.DELETE)
            return True
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if st.custom and not st.retain_on_delete:
                provider = providers.get(st.provider)
                if provider is None or isinstance(provider, Exception):
                    raise RuntimeError(
                        f"the provider of '{st.name}' ({st.provider}) cannot "
                        f"be loaded: {provider!r}; make sure its module is "
                        "importable from the project folder")
                pending = _copy_state(st)
                pending.pending = "deleting"
                self.writer.put(pending)
                await self._commit()
                self.display.step_started(step)
                fn = provider.delete
                step.provider = provider
                step.calling, step.call_started = "delete", _monotonic()
                self.running.add(step)
                try:
                    if inspect.iscoroutinefunction(fn):
                        await fn(st.id, st.outputs)
                    elif not getattr(provider, "blocking", True):
                        fn(st.id, st.outputs)
                    else:
                        await _to_thread(_exits_caught(fn, "delete()"),
                                         st.id, st.outputs)
                except (SystemExit, KeyboardInterrupt) as exc:
                    if _real_interrupt(exc):
                        raise
                    raise _provider_exit(exc, provider, "delete()") from None
                finally:
                    self.running.discard(step)
                    self.calls_done += 1
            self.writer.remove(st.key)
            await self._commit()
            step.ok = True
            step.elapsed = time.monotonic() - step.started
            self.display.step_finished(step)
            self._count(plan.DELETE)
            self.old.pop(st.key, None)
            return True
        except Exception as exc:  # noqa: BLE001
            step.ok = False
            step.error = describe_error(exc)
            step.elapsed = time.monotonic() - step.started
            self.failures.append((st.urn, step.error))
            self.display.step_finished(step)
            self._count("failed")
            return False
        finally:
            self.in_flight -= 1

    def _fatal(self, exc: BaseException) -> None:
        """The state cannot be written (a full disk): nothing more starts,
        what waited for this commit fails with the reason, and the records
        of the failed commit are dropped, so that no later commit writes
        what the run reports as not recorded.  No step of theirs was shown
        as done (see awaiting_commit); each is reported instead."""
        if self.fatal is None:
            self.fatal = exc
        self.stop()
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
        counts = self.counts
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
        for step in steps:
            if id(step) in done:
                # The provider did its work and the intent record, which
                # was committed before it started, stays: the next run
                # says the operation did not finish.
                self._fail(step, StateError(
                    f"{exc}; its {step.op} finished but was not recorded, "
                    "so the next run reports it as unfinished"),
                    keep_intent=True)
            else:
                self._fail(step, exc)
        if lost:
            self._count_lost(lost, exc)

    def _count_lost(self, lost: list[Step], exc: BaseException) -> None:
        """Steps of inline providers (already settled) whose records did
        not reach the state: one failure names them all."""
        self.counts["failed"] = self.counts.get("failed", 0) + len(lost)
        names = ", ".join(step.name for step in lost[:10])
        if len(lost) > 10:
            names += f" and {len(lost) - 10} more"
        done = {plan.CREATE: "created", plan.UPDATE: "updated",
                plan.REPLACE: "replaced", plan.IMPORT: "imported"}
        how = " or ".join(sorted({done.get(step.op, step.op)
                                  for step in lost}))
        one = len(lost) == 1
        self.failures.append((
            "state",
            f"{exc}. {len(lost)} resource{'' if one else 's'} "
            f"{'was' if one else 'were'} {how} by this run but not "
            f"recorded: {names}; the state holds what it held before, and "
            f"the next `outrun up` does {'it' if one else 'them'} again"))

    def flush_now(self) -> bool:
        """Commits what is queued (at the end of a run) and shows the steps
        it holds as done; False when it could not.  A state that cannot
        be written ends the run as in _flush: a failure with the reason,
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

    def stop(self) -> None:
        """Ctrl-C: no new steps start; those in flight finish."""
        self.stopping = True

    async def finish_outputs(self) -> dict[str, Any]:
        """Resolves the exports; stores them (up).  Returns them for the
        summary, secrets replaced by '[secret]'."""
        from outrun.resource import output_value_message, output_value_problem

        shown: dict[str, Any] = {}
        values: dict[str, Any] = {}
        secret: set[str] = set()
        for name, value in self.exports.items():
            try:
                out = Output.from_input(value)
                await out.future(with_unknowns=True)
                state, value2, known, is_secret, _ = out._peek()
                problem = output_value_problem(value2)
                if problem is not None:
                    # Refused, not stored as its repr (issue 11, item 12).
                    self.failures.append((
                        f"output {name}",
                        output_value_message(name, problem)))
                    continue
                v = _plain(value2)
                why = _unsavable(v)
            except RecursionError:
                why = _TOO_DEEP
            except Exception as exc:  # noqa: BLE001
                self.failures.append((f"output {name}", str(exc)))
                continue
            if why is not None:
                self.failures.append((
                    f"output {name}", f"the stack output '{name}' cannot "
                    f"be saved: {why}; it was left out of the stack's "
                    "outputs"))
                continue
            if is_secret:
                secret.add(name)
                shown[name] = "[secret]"
            elif not known:
                shown[name] = "[unknown]"
            else:
                shown[name] = v
            values[name] = v
        if self.writer is not None:
            self.writer.set_outputs(values, frozenset(secret))
            for key in self.stale_creates:
                if key not in self.steps:
                    self.writer.remove(key)
            if not self.flush_now():
                self.failures.append((
                    "outputs",
                    f"the stack's outputs were not saved: {self.fatal}"))
        return shown


# How often the engine looks for dependency cycles while it is idle.
CYCLE_CHECK_S = 0.25


def _find_cycles(waiting: list[Step], owner: Mapping[int, Step]
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


def _describe_cycle(cycle: list[tuple[Step, str | None]]) -> str:
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


_TOO_DEEP = ("it is nested too deeply (lists or dicts inside each other "
             "hundreds of levels down); export a flatter value")


def _unsavable(value: Any) -> str | None:
    """Why a stack output (as _plain made it) cannot be stored, or None:
    the state's own JSON encoding, and UTF-8 (SQLite's text)."""
    from outrun._engine.state import _encode

    try:
        _encode(value).encode("utf-8")
    except RecursionError:
        return _TOO_DEEP
    except UnicodeEncodeError as exc:
        return (f"it holds a string that is not valid text (a lone "
                f"surrogate, {exc.object[exc.start:exc.end]!a}); export "
                "text that encodes as UTF-8")
    except (TypeError, ValueError) as exc:
        if "integer string conversion" in str(exc):
            return ("it holds an integer too long to save (more than "
                    f"{sys.get_int_max_str_digits()} digits); export it "
                    "as a string, str(n)")
        return f"{exc}; stack outputs must be JSON values"
    return None


def _plain(value: Any) -> Any:
    """A stack output as stored: Resources become their public attributes'
    names, sets lists, unknown None."""
    if value is UNKNOWN:
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, _resource_class()):
        return value._step.urn
    return repr(value)


def _copy_state(st: ResourceState) -> ResourceState:
    return ResourceState(
        urn=st.urn, type=st.type, name=st.name, custom=st.custom,
        provider=st.provider, id=st.id, parent=st.parent, inputs=st.inputs,
        outputs=st.outputs, secret_inputs=st.secret_inputs,
        secret_outputs=st.secret_outputs, deps=st.deps, protect=st.protect,
        retain_on_delete=st.retain_on_delete, pending=st.pending,
        delete=st.delete, seq=st.seq)


def _expand(step: Step) -> list[Step]:
    """depends_on a component means depends_on its children (custom ones,
    and the children of child components)."""
    if step.custom:
        return [step]
    out = []
    for child in step.children or ():
        out.extend(_expand(child))
    return out


def _resource_class() -> type:
    from outrun.resource import Resource

    return Resource


def _checked(call: Any, olds: Mapping[str, Any],
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


def _create_call(call: Any, provider: Any,
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


def describe_error(exc: BaseException) -> str:
    """An exception in one line, as failures and skips show it: its type
    and its message (the type alone when the message is empty)."""
    text = str(exc)
    if isinstance(exc, (ProviderExitError, DependencyCycleError)) and text:
        # Messages the engine wrote: the type adds nothing.
        return text
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _catching(phase: Any, step: Step, outcome: _Outcome,
              call: Any) -> _Outcome:
    """Runs a phase (on a pool thread); its exception becomes the step's
    error."""
    try:
        phase(step, outcome, call)
    except Exception as exc:  # noqa: BLE001 - the step's error
        outcome.error = exc
    return outcome


class _Threaded:
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
            return _exits_caught(fn, name + "()", self._provider)
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
                if _real_interrupt(exc):
                    raise
                raise _provider_exit(exc, provider, name + "()") from None

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


def _label(step: Step) -> str:
    """'name' (Class) of a step's resource, as messages name it."""
    res = step.__dict__.get("res")
    cls = type(res).__name__ if res is not None else step.type
    return f"'{step.name}' ({cls})"


def _real_interrupt(exc: BaseException) -> bool:
    """A KeyboardInterrupt of Ctrl-C (the run is interrupted), not one a
    provider raised itself."""
    if not isinstance(exc, KeyboardInterrupt):
        return False
    from outrun import _host

    rt = _host._current
    return rt is None or rt.interrupted


def _provider_exit(exc: BaseException, provider: Any,
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


def _exits_caught(fn: Any, method: str, provider: Any = None) -> Any:
    """fn, with a SystemExit or KeyboardInterrupt it raises (on a pool
    thread, never Ctrl-C's) turned into its step's failure."""
    owner = provider if provider is not None \
        else getattr(fn, "__self__", fn)

    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except (SystemExit, KeyboardInterrupt) as exc:
            raise _provider_exit(exc, owner, method) from None
    return call


async def _to_thread(fn: Any, *args: Any) -> Any:
    from outrun._offload import to_thread

    return await to_thread(fn, *args)


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

