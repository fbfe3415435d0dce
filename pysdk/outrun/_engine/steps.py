"""A step: one resource of a run and what happens to it, with the Outputs
the program reads from it; and the failures the engine reports.

A program may declare 100,000 resources, so a ``Step`` keeps its defaults
as class attributes and stores only what differs.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from _outrun import UNKNOWN, Output

from outrun._engine import plan
from outrun._engine.state import ResourceState

if TYPE_CHECKING:
    from outrun._engine.deployment import Deployment


NO_DEPS: frozenset[str] = frozenset()
NO_KEYS: frozenset[str] = frozenset()
EMPTY: Mapping[str, Any] = types.MappingProxyType({})


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


def describe_error(exc: BaseException) -> str:
    """An exception in one line, as failures and skips show it: its type
    and its message (the type alone when the message is empty)."""
    text = str(exc)
    if isinstance(exc, (ProviderExitError, DependencyCycleError)) and text:
        # Messages the engine wrote: the type adds nothing.
        return text
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


class Outcome:
    """What a step's provider calls came to."""

    op = ""
    news: Mapping[str, Any] | None = None
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
    deps: frozenset[str] | set[str] = NO_DEPS
    inputs: Mapping[str, Any] = EMPTY
    secret_inputs: frozenset[str] = NO_KEYS
    out_secret: frozenset[str] = NO_KEYS
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
            failed: Output[Any] = Output._pending()
            failed._reject(self._failure())
            return failed
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
        values = self.values or EMPTY
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


def label(step: Step) -> str:
    """'name' (Class) of a step's resource, as messages name it."""
    res = step.__dict__.get("res")
    cls = type(res).__name__ if res is not None else step.type
    return f"'{step.name}' ({cls})"


def expand(step: Step) -> list[Step]:
    """depends_on a component means depends_on its children (custom ones,
    and the children of child components)."""
    if step.custom:
        return [step]
    out = []
    for child in step.children or ():
        out.extend(expand(child))
    return out
