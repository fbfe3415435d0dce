"""The registration interface: how the resource model talks to whatever
runs it.

The model (``outrun.resource``, ``outrun.dynamic``, ``outrun.config``,
``outrun.log``, ``outrun.export`` and ``outrun.run``'s result) never
reaches into the engine.  Everything it needs from a run goes through one
object, the *monitor* of the run in progress, in the spirit of Pulumi's
resource monitor:

========================  ================================================
``register_resource``     a resource was constructed: give it a handle
``register_outputs``      a component's outputs, for the state
``export``                a stack output
``program_returned``      what ``outrun.run(main)``'s main gave back
``config``                one configuration value (value, is it secret)
``log``                   a message from the program, for the display
``invoke``                a provider function (``aws.s3.get_bucket``...)
``project`` / ``stack``   names of the run
``dry_run``               True during a preview
========================  ================================================

The engine (``outrun._engine.deployment.Deployment``) is one
implementation.  An in-process test implementation (every registration
answered by user code, nothing stored) is a second one; it needs nothing
but the methods below.

:func:`activate` installs a monitor for the length of a run; ``active`` is
read on every resource construction, so it is a plain module attribute.
This module imports nothing of the SDK: both the model and the engine
depend on it, never the other way round.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    import asyncio

    from _outrun import Output


class ConfigValue(NamedTuple):
    """One configuration value as the stack holds it."""

    value: str
    secret: bool


class ResourceHandle(Protocol):
    """What ``register_resource`` attaches to a resource (as its
    ``_step`` attribute): where the resource's Outputs come from."""

    urn: str
    type: str
    name: str
    custom: bool
    #: The property names the resource has Outputs for.
    keys: Any

    def output(self, key: str) -> Output[Any]:
        """The Output of ``id``, ``urn`` or a property, made on first
        use."""
        ...

    def self_deps(self) -> frozenset[Any]:
        """The dependencies of the resource's own Outputs: {resource}."""
        ...


class Monitor(Protocol):
    """What runs a program's resources.  See the module's docstring."""

    project: str
    stack: str
    dry_run: bool

    def register_resource(self, res: Any, type_: str, name: str,
                          custom: bool, props: Mapping[str, Any],
                          opts: Any, remote: bool) -> None:
        """Takes a new resource: sets ``res._step`` to its
        :class:`ResourceHandle` and returns at once; the resource's
        Outputs resolve when the monitor has done what it does with it."""
        ...

    def register_outputs(self, res: Any, outputs: Mapping[str, Any]
                         ) -> None:
        """A component resource's outputs (Outputs allowed inside)."""
        ...

    def export(self, name: str, value: Any) -> None:
        """A stack output (already checked by ``outrun.export``)."""
        ...

    def program_returned(self, task: asyncio.Future[Any]) -> None:
        """``outrun.run(main)``'s main task is done: a mapping it
        returned becomes stack outputs."""
        ...

    def config(self, key: str) -> ConfigValue | None:
        """The value of the full key ``namespace:name``, or None."""
        ...

    def log(self, level: str, message: str, urn: str | None) -> None:
        """A message from the program: level is debug, info, warning or
        error (an error also fails the run)."""
        ...

    def invoke(self, token: str, args: Mapping[str, Any],
               provider: Any = None) -> Any:
        """Calls the provider function ``token`` with args; returns its
        result (a mapping) or an awaitable of it."""
        ...


active: Monitor | None = None
"""The monitor of the run in progress, or None outside a run."""


def current() -> Monitor | None:
    return active


@contextlib.contextmanager
def activate(monitor: Monitor) -> Iterator[Monitor]:
    """Makes monitor the current one until the block ends."""
    global active
    previous, active = active, monitor
    try:
        yield monitor
    finally:
        active = previous
