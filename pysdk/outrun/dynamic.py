"""Providers written in Python, run in-process: the shape of Pulumi's
dynamic providers.

A provider is a class with ``check``, ``diff``, ``create``, ``read``,
``update`` and ``delete``.  The engine calls them on a native pool thread
when they are plain functions (so a blocking call never stalls the event
loop), awaits them on the loop when they are ``async def``, and calls them
on the loop thread only when the class sets ``blocking = False`` (for
providers whose methods are quick and pure, like the built-in random one).

The engine keeps a pickled copy of the provider in the state, so that a
resource the program no longer declares, or a whole stack, can still be
deleted: define the class at module level.

    class FileProvider(outrun.dynamic.ResourceProvider):
        def create(self, props):
            with open(props["path"], "w") as f:
                f.write(props["text"])
            return CreateResult(props["path"], props)

        def delete(self, id_, props):
            os.remove(id_)

    class File(outrun.dynamic.Resource):
        def __init__(self, name, path, text, opts=None):
            super().__init__(FileProvider(), name,
                             {"path": path, "text": text}, opts)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"


class CheckFailure:
    """One reason why check() refused the inputs."""

    __slots__ = ("property", "reason")

    def __init__(self, property: str, reason: str) -> None:  # noqa: A002
        self.property = property
        self.reason = reason

    def __repr__(self) -> str:
        return f"CheckFailure({self.property!r}, {self.reason!r})"


class CheckResult:
    """What check() returns: the inputs to use, and failures if any."""

    __slots__ = ("inputs", "failures")

    def __init__(self, inputs: Mapping[str, Any],
                 failures: Sequence[CheckFailure] | None = None) -> None:
        self.inputs = inputs
        self.failures = list(failures or ())


class DiffResult:
    """What diff() returns.

    changes: True if anything differs, False if nothing does, None to let
    the engine compare the old and new inputs itself.  replaces: the
    properties whose change needs a new resource.  delete_before_replace:
    delete the old resource before creating its replacement.
    """

    __slots__ = ("changes", "replaces", "stables", "delete_before_replace")

    def __init__(self, changes: bool | None = None,
                 replaces: Sequence[str] | None = None,
                 stables: Sequence[str] | None = None,
                 delete_before_replace: bool | None = None) -> None:
        self.changes = changes
        self.replaces = list(replaces or ())
        self.stables = list(stables or ())
        self.delete_before_replace = delete_before_replace


def _checked_id(id_: Any, what: str, empty_ok: bool = False) -> str:
    """A resource id: a non-empty string, which the state stores as is
    (an int would come back as a string on the next run and look like a
    change)."""
    if not isinstance(id_, str) or not (id_ or empty_ok):
        raise TypeError(
            f"{what}'s id must be a non-empty string, not "
            f"{type(id_).__name__} {id_!r}; pass str(...) of it")
    return id_


class CreateResult:
    """What create() returns: the new resource's id and its outputs."""

    __slots__ = ("id", "outs")

    def __init__(self, id_: str, outs: Mapping[str, Any] | None = None) -> None:
        self.id = _checked_id(id_, "CreateResult")
        self.outs = outs

    @property
    def id_(self) -> str:
        return self.id


class ReadResult:
    """What read() returns: the id and outputs of a resource as it is now."""

    __slots__ = ("id", "outs")

    def __init__(self, id_: str | None = None,
                 outs: Mapping[str, Any] | None = None) -> None:
        self.id = None if id_ is None else _checked_id(id_, "ReadResult",
                                                        empty_ok=True)
        self.outs = outs

    @property
    def id_(self) -> str | None:
        return self.id


class UpdateResult:
    """What update() returns: the resource's outputs after the update."""

    __slots__ = ("outs",)

    def __init__(self, outs: Mapping[str, Any] | None = None) -> None:
        self.outs = outs


class ResourceProvider:
    """Base class of providers.  Override what the resource needs: create
    always; delete when the resource exists outside the state; update if
    changes can be made in place (without it, every change replaces)."""

    #: False: the methods are quick and never block, so the engine calls
    #: them on the loop thread instead of a pool thread.
    blocking: bool = True

    def check(self, _olds: Mapping[str, Any],
              news: Mapping[str, Any]) -> CheckResult:
        """Validates the new inputs; returns the inputs to use."""
        return CheckResult(news, [])

    def diff(self, _id: str, _olds: Mapping[str, Any],
             _news: Mapping[str, Any]) -> DiffResult:
        """Compares the stored outputs with the new inputs.  The default
        leaves it to the engine, which compares old and new inputs."""
        return DiffResult()

    def create(self, props: Mapping[str, Any]) -> CreateResult:
        raise NotImplementedError(
            f"{type(self).__name__} does not implement create(); a provider "
            "needs create(self, props) -> CreateResult(id, outs)")

    def read(self, id_: str, props: Mapping[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def update(self, _id: str, _olds: Mapping[str, Any],
               _news: Mapping[str, Any]) -> UpdateResult:
        raise NotImplementedError(
            f"{type(self).__name__} does not implement update()")

    def delete(self, _id: str, _props: Mapping[str, Any]) -> None:
        return None


def _resource_base() -> type:
    from outrun.resource import CustomResource

    return CustomResource


from outrun import _monitor  # noqa: E402
from outrun.resource import ResourceOptions as _ResourceOptions  # noqa: E402


class Resource(_resource_base()):  # type: ignore[misc]
    """A resource whose provider is a :class:`ResourceProvider` instance.

    ``props`` keys become Output attributes; give outputs that only the
    provider computes as keys with the value None, as generated SDKs do.
    """

    def __init__(self, provider: ResourceProvider, name: str,
                 props: Mapping[str, Any], opts: Any = None,
                 type_: str = DYNAMIC_TYPE) -> None:
        if not isinstance(provider, ResourceProvider):
            raise TypeError(
                "outrun.dynamic.Resource needs a ResourceProvider instance "
                f"as its provider, not {type(provider).__name__}")
        self._provider_impl = provider
        monitor = _monitor.active
        if (monitor is not None and type(name) is str and type(props) is dict
                and (opts is None or type(opts) is _ResourceOptions)):
            # The common case, straight to the monitor: this constructor
            # runs once per resource.
            monitor.register_resource(self, type_, name, True, props, opts,
                                      False)
            return
        super().__init__(type_, name, props, opts)


__all__ = [
    "CheckFailure",
    "CheckResult",
    "CreateResult",
    "DiffResult",
    "ReadResult",
    "Resource",
    "ResourceProvider",
    "UpdateResult",
]
