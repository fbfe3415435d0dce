"""Registration: a resource the program declares becomes a step (its URN,
parent, provider and options, aliases), which waits for its inputs and
its ``depends_on``; once the last of them has settled, its inputs are read
(values, secretness, unknowns, the resources they came from) and the step
is handed on: to the queue, or, for a component, done at once.
"""

from __future__ import annotations

import hashlib
import inspect
import pickle
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from _outrun import UNKNOWN, Output
from _outrun import scan_inputs as _scan_inputs

from outrun import _secrets
from outrun._engine.steps import EngineFailure, Step, describe_error, expand
from outrun.dynamic import ResourceProvider
from outrun.resource import Resource

if TYPE_CHECKING:
    from outrun._engine.deployment import Deployment
    from outrun._engine.execution import Executor
    from outrun._engine.recording import Recorder
    from outrun._engine.results import Results

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


class Registry:
    """The registrations of one run: the steps by URN, and the providers
    seen so far."""

    def __init__(self, run: Deployment, executor: Executor,
                 results: Results, recorder: Recorder) -> None:
        self.run = run
        self.executor = executor
        self.results = results
        self.recorder = recorder
        self.steps = run.steps
        self.seq = 0
        self.urn_prefix = f"urn:pulumi:{run.stack}::{run.project}::"
        # (the provider's name in the state, how its methods run), by
        # class for providers without instance state.
        self.provider_cache: dict[type, tuple[str, str]] = {}
        self.provider_cache_blobs: dict[Any, tuple[str, bytes]] = {}
        # Providers the state holds (see Deployment.load) or this run has
        # saved.
        self.known_providers: set[str] = set()

    # A new resource ----------------------------------------------------------

    def register(self, res: Any, t: str, name: str, custom: bool,
                 props: Mapping[str, Any], opts: Any) -> None:
        """Resource.__init__ (through Deployment.register_resource)."""
        run = self.run
        step = Step()
        step.deployment = run
        step.res = res
        step.type = t
        step.name = name
        step.custom = custom
        if run.definitions_only:
            # destroy runs the program only for the classes it defines:
            # its resources are not acted on, and read as unknown.
            step.keys = props.keys()
            step.urn = self.urn_prefix + t + "::" + name
            step.settled = 1
            res.__dict__["_step"] = step
            return
        pstep = self._place(step, t, name, opts)
        step.keys = props.keys()
        self.seq += 1
        step.seq = self.seq
        secret_outs = type(res)._secret_outputs
        provider = getattr(res, "_provider_impl", None)
        if opts is None:
            if pstep is not None and pstep.protect:
                step.protect = True
        else:
            secret_outs = self._options(step, opts, secret_outs)
            if provider is None and isinstance(opts.provider,
                                               ResourceProvider):
                provider = opts.provider
        if secret_outs:
            step.secret_outs = secret_outs
        res.__dict__["_step"] = step
        self.steps[step.urn] = step
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
        run.unsettled += 1
        self._watch(step, props, opts, pstep)

    def _place(self, step: Step, t: str, name: str,
               opts: Any) -> Step | None:
        """The step's parent (returned), qualified type and URN, which
        must be new."""
        pstep = None
        if opts is not None and opts.parent is not None:
            parent = opts.parent
            pstep = getattr(parent, "_step", None)
            if pstep is None or not isinstance(parent, Resource):
                raise TypeError("Resource parent is not a valid Resource")
            qualified = pstep.qtype + "$" + t
            step.parent = pstep
        else:
            qualified = t
        step.qtype = qualified
        urn = self.urn_prefix + qualified + "::" + name
        steps = self.steps
        if not len(steps) & 63 and self.run.beat is not None:
            # Declaring resources is the run's work, not a stall: tell
            # the watchdog the loop thread is making progress.
            self.run.beat()
        if urn in steps:
            raise ValueError(
                f"Duplicate resource URN '{urn}'; try giving it a unique "
                "name")
        step.urn = urn
        return pstep

    def _watch(self, step: Step, props: Mapping[str, Any], opts: Any,
               pstep: Step | None) -> None:
        """What the step waits for: every input that is not a plain value,
        its depends_on, and a custom parent."""
        watched: list[tuple[Any, Output[Any]]] | None = _scan_inputs(props) \
            if type(props) is dict else _scan_inputs(dict(props))
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

    def _options(self, step: Step, opts: Any,
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
        step.alias_keys = alias_urns(
            opts.aliases, step.type, step.name, pstep, self.run.stack,
            self.run.project) if opts.aliases else ()
        return secret_outs

    def _provider_ref(self, provider: Any) -> tuple[str, str]:
        """(the provider's name in the state, how its methods run); saves
        the pickled provider the first time."""
        ref, blob = provider_ref(provider, self.provider_cache_blobs)
        info = (ref, self.executor.mode(provider))
        if not provider.__dict__:
            self.provider_cache[type(provider)] = info
        if ref not in self.known_providers:
            writer = self.recorder.writer
            if writer is not None:
                writer.put_provider(ref, blob)
            self.known_providers.add(ref)
        return info

    def _depends_on(self, item: Any) -> list[tuple[str | None, Output[Any]]]:
        if item is None:
            return []
        if isinstance(item, Resource):
            out: list[tuple[str | None, Output[Any]]] = []
            for s in expand(item._step):
                out.append((None, s.output("__done")))
            return out
        if isinstance(item, Output) or inspect.isawaitable(item):
            # An Input of a resource (or a list of them): wait for it, then
            # for the resources it names.
            return [(None, Output.from_input(item).apply(
                _wait_for_resources))]
        raise TypeError(f"'depends_on' was passed a value {item!r} that was "
                        "not a Resource.")

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

    # Inputs ready ------------------------------------------------------------

    def _inputs_ready(self, step: Step) -> None:
        props = step.props
        inputs = dict(props) if props else {}
        secret: list[str] = []
        unknown = False
        deps: set[str] = set()
        failed: BaseException | None = None
        failed_key = None
        for key, out in step.watched or ():
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
                self.results.skip(step, str(failed))
            else:
                where = f"its input '{failed_key}'" if failed_key \
                    else "one of its dependencies"
                self.results.skip(step, f"{where} failed: "
                                        f"{describe_error(failed)}")
            return
        step.inputs = inputs
        if secret:
            step.secret_inputs = frozenset(secret)
        step.unknown_inputs = unknown
        self._ready(step)

    def _ready(self, step: Step) -> None:
        old_states = self.run.old
        old = old_states.get(step.urn)
        if old is None and step.alias_keys:
            for alias in step.alias_keys:
                old = old_states.get(alias)
                if old is not None:
                    # Taken over under the new URN.
                    self._aliased(alias, step)
                    break
        if old is not None:
            step.old = old
        if not step.custom:
            self.results.component(step)
            return
        self.executor.submit(step)

    def _aliased(self, alias: str, step: Step) -> None:
        if self.recorder.writer is not None:
            self.recorder.writer.remove(alias)
        # Kept under the new URN's key, with the old URN inside, so that
        # the record is rewritten under the new one.
        old_states = self.run.old
        old_states[step.urn] = old_states.pop(alias)

    # A component's outputs ---------------------------------------------------

    def register_outputs(self, res: Any, outputs: Mapping[str, Any]) -> None:
        """Records a component's outputs once they have resolved (and the
        component's step is done)."""
        step = res._step
        out = Output.from_input(dict(outputs))
        recorder = self.recorder

        def store(_o: Any) -> None:
            state, value, known, secret, _deps = out._peek()
            if state != "resolved" or not known or step.settled != 1:
                return
            step.values = value
            if secret:
                step.out_secret = frozenset(value)
            recorder.record(step, None, value, news=step.inputs)
            if recorder.writer is not None:
                recorder.schedule_flush()
        out._watch(store)


def _wait_for_resources(value: Any) -> Any:
    """depends_on given as an Output: the resources it resolved to, waited
    for in turn."""
    items = value if isinstance(value, (list, tuple)) else [value]
    outs: list[Output[Any]] = []
    for item in items:
        if item is None:
            continue
        if not isinstance(item, Resource):
            raise TypeError(f"'depends_on' was passed a value {item!r} "
                            "that was not a Resource.")
        outs.extend(s.output("__done") for s in expand(item._step))
    return Output.all(*outs) if outs else None


def alias_urns(aliases: Any, t: str, name: str, pstep: Step | None,
               stack: str, project: str) -> tuple[str, ...]:
    """The URNs a resource had under its aliases (strings are URNs; Alias
    objects change the name, type, parent, stack or project)."""
    urns = []
    for alias in aliases:
        if isinstance(alias, str):
            urns.append(alias)
            continue
        a_name = name if alias.name is ... else alias.name
        a_type = t if alias.type_ is ... else alias.type_
        a_stack = stack if alias.stack is ... else alias.stack
        a_project = project if alias.project is ... else alias.project
        parent_qtype = None
        if alias.parent is ...:
            parent_qtype = pstep.qtype if pstep is not None else None
        elif isinstance(alias.parent, str):
            # The old parent's URN: its qualified type is the third
            # part (urn:pulumi:STACK::PROJECT::QTYPE::NAME).
            parts = alias.parent.split("::", 3)
            if len(parts) != 4 or not parts[0].startswith("urn:pulumi:"):
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
