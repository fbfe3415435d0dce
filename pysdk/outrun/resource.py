"""Resources: what a program declares, and the options that shape how the
engine treats them.

A resource is created by calling its class.  The constructor returns at
once; the engine waits for the inputs, then creates, updates, replaces or
keeps the resource, and resolves its Output attributes (``urn``, ``id``
and one per property) when that step is done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import inspect
import math

from _outrun import UNKNOWN, Output

from outrun import _monitor

ROOT_STACK_RESOURCE = None


class CustomTimeouts:
    """How long a provider operation may take ("30s", "5m", "1h")."""

    __slots__ = ("create", "update", "delete", "read")

    def __init__(self, create: str | None = None, update: str | None = None,
                 delete: str | None = None, read: str | None = None) -> None:
        self.create = create
        self.update = update
        self.delete = delete
        self.read = read

    def __repr__(self) -> str:
        return (f"CustomTimeouts(create={self.create!r}, "
                f"update={self.update!r}, delete={self.delete!r})")


class Alias:
    """A name a resource had before: matching state under that URN is
    taken over instead of deleting one resource and creating another.
    ``...`` means "the same as now"; ``parent=None`` means "had no
    parent".  The old parent is a resource, or its URN as a string
    (``parent_urn``, or a string as ``parent``) when it no longer exists."""

    __slots__ = ("name", "type_", "parent", "stack", "project")

    def __init__(self, name: Any = ..., type_: Any = ..., parent: Any = ...,
                 stack: Any = ..., project: Any = ...,
                 parent_urn: str | None = None) -> None:
        if parent_urn is not None:
            if parent is not ...:
                raise TypeError("Alias takes parent or parent_urn, not both")
            parent = parent_urn
        if parent is not ... and parent is not None \
                and not isinstance(parent, (str, Resource)):
            raise TypeError(
                "Alias parent must be a resource or the parent's URN as a "
                f"string, not {type(parent).__name__}; an Output cannot "
                "be used here: write the URN out")
        self.name = name
        self.type_ = type_
        self.parent = parent
        self.stack = stack
        self.project = project


_LIST_OPTIONS = ("ignore_changes", "replace_on_changes", "aliases",
                 "additional_secret_outputs", "transformations", "transforms",
                 "replace_with", "hide_diffs")
_OPTION_NAMES = (
    "parent", "depends_on", "protect", "provider", "providers",
    "delete_before_replace", "ignore_changes", "version", "aliases",
    "additional_secret_outputs", "id", "import_", "custom_timeouts",
    "transformations", "transforms", "hooks", "urn", "replace_on_changes",
    "replacement_trigger", "plugin_download_url", "retain_on_delete",
    "deleted_with", "replace_with", "hide_diffs", "env_var_mappings",
)


def _check_depends_on(value: Any) -> None:
    items = value if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if item is None or isinstance(item, (Resource, Output, Awaitable)):
            continue
        raise TypeError(
            f"'depends_on' was passed a value {item!r} that was not a "
            "Resource.")


class ResourceOptions:
    """Options of a resource: parent, depends_on, protect, provider,
    delete_before_replace, ignore_changes, aliases, custom_timeouts,
    import_, replace_on_changes, retain_on_delete, additional_secret_outputs
    and the rest of Pulumi's names (accepted, and ignored where Outrun has
    nothing to do with them)."""

    def __init__(self, *, parent: Resource | None = None,
                 depends_on: Any = None, protect: bool | None = None,
                 provider: Any = None, providers: Any = None,
                 delete_before_replace: bool | None = None,
                 ignore_changes: list[str] | None = None,
                 version: str | None = None,
                 aliases: list[Any] | None = None,
                 additional_secret_outputs: list[str] | None = None,
                 id: Any = None,  # noqa: A002 - Pulumi's name
                 import_: str | None = None,
                 custom_timeouts: CustomTimeouts | None = None,
                 transformations: list[Any] | None = None,
                 transforms: list[Any] | None = None,
                 hooks: Any = None, urn: str | None = None,
                 replace_on_changes: list[str] | None = None,
                 replacement_trigger: Any = None,
                 plugin_download_url: str | None = None,
                 retain_on_delete: bool | None = None,
                 deleted_with: Resource | None = None,
                 replace_with: list[Any] | None = None,
                 hide_diffs: list[str] | None = None,
                 env_var_mappings: Any = None) -> None:
        if depends_on is not None:
            _check_depends_on(depends_on)
        self.parent = parent
        self.depends_on = depends_on
        self.protect = protect
        self.provider = provider
        self.providers = providers
        self.delete_before_replace = delete_before_replace
        # One name given as a string means that name, not its letters.
        self.ignore_changes = [ignore_changes] \
            if isinstance(ignore_changes, str) else ignore_changes
        self.version = version
        self.aliases = aliases
        self.additional_secret_outputs = additional_secret_outputs
        self.id = id
        self.import_ = import_
        self.custom_timeouts = custom_timeouts
        self.transformations = transformations
        self.transforms = transforms
        self.hooks = hooks
        self.urn = urn
        self.replace_on_changes = [replace_on_changes] \
            if isinstance(replace_on_changes, str) else replace_on_changes
        self.replacement_trigger = replacement_trigger
        self.plugin_download_url = plugin_download_url
        self.retain_on_delete = retain_on_delete
        self.deleted_with = deleted_with
        self.replace_with = replace_with
        self.hide_diffs = hide_diffs
        self.env_var_mappings = env_var_mappings

    def _copy(self) -> ResourceOptions:
        new = ResourceOptions.__new__(ResourceOptions)
        new.__dict__.update(self.__dict__)
        return new

    def merge(self: Any, other: ResourceOptions | None = None
              ) -> ResourceOptions:
        """Returns a new ResourceOptions: lists concatenated (depends_on
        too), other's values winning for the rest when they are not None.
        Neither argument changes.  Also callable as
        ``ResourceOptions.merge(a, b)`` with either being None."""
        if self is None:
            base = ResourceOptions()
        else:
            base = self._copy()
        if other is None:
            return base
        for name in _OPTION_NAMES:
            theirs = getattr(other, name, None)
            if name in _LIST_OPTIONS or name == "depends_on":
                mine = getattr(base, name)
                if theirs is None:
                    continue
                merged = _as_list(mine) + _as_list(theirs)
                setattr(base, name, merged)
            elif theirs is not None:
                setattr(base, name, theirs)
        return base

    def __repr__(self) -> str:
        set_ = {k: v for k, v in self.__dict__.items() if v is not None}
        inner = ", ".join(f"{k}={v!r}" for k, v in set_.items())
        return f"ResourceOptions({inner})"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


class Resource:
    """The base of all resources.  ``Resource(t, name, custom, props,
    opts)``; use :class:`CustomResource` or :class:`ComponentResource`."""

    _is_resource = True
    #: Output keys that are always secret (e.g. a generated password).
    _secret_outputs: tuple[str, ...] = ()

    def __init__(self, t: str, name: str, custom: bool,
                 props: Mapping[str, Any] | None = None,
                 opts: ResourceOptions | None = None,
                 remote: bool = False, dependency: bool = False) -> None:
        if t is None:
            raise TypeError("Missing resource type argument")
        if not isinstance(t, str):
            raise TypeError("Expected resource type to be a string")
        if name is None:
            raise TypeError("Missing resource name argument (for URN "
                            "creation)")
        if not isinstance(name, str):
            raise TypeError("Expected resource name to be a string")
        if opts is not None and not isinstance(opts, ResourceOptions):
            raise TypeError("Expected resource options to be a "
                            "ResourceOptions instance")
        if props is None:
            props = {}
        elif type(props) is not dict and not isinstance(props, Mapping):
            raise TypeError("Expected resource properties to be a mapping")
        monitor = _monitor.active
        if monitor is None:
            raise RuntimeError(
                f"cannot create resource '{name}' ({t}): resources need a "
                "deployment; run the program with `outrun up` or "
                "`outrun preview` (not `outrun run` or python3)")
        monitor.register_resource(self, t, name, custom, props, opts, remote)

    def __getattr__(self, name: str) -> Any:
        # Output attributes are made on first use: a resource with many
        # properties costs one Output per property that is read.
        step = self.__dict__.get("_step")
        if step is not None and (name in step.keys or (
                name == "id" and step.custom)):
            out = step.output(name)
            self.__dict__[name] = out
            return out
        raise AttributeError(
            f"'{type(self).__name__}' object has no attribute '{name}'")

    @property
    def urn(self) -> Output[str]:
        step = self.__dict__["_step"]
        return Output._resolved(step.urn, True, False, step.self_deps())

    @property
    def pulumi_resource_type(self) -> str:
        return self._step.type

    @property
    def pulumi_resource_name(self) -> str:
        return self._step.name

    def translate_output_property(self, prop: str) -> str:
        return prop

    def translate_input_property(self, prop: str) -> str:
        return prop


class CustomResource(Resource):
    """A resource that a provider creates, updates and deletes."""

    def __init__(self, t: str, name: str,
                 props: Mapping[str, Any] | None = None,
                 opts: ResourceOptions | None = None,
                 dependency: bool = False) -> None:
        super().__init__(t, name, True, props, opts, False, dependency)


class ComponentResource(Resource):
    """A group of resources: give it as ``parent`` to its children, and
    call :meth:`register_outputs` at the end of its constructor."""

    def __init__(self, t: str, name: str,
                 props: Mapping[str, Any] | None = None,
                 opts: ResourceOptions | None = None,
                 remote: bool = False) -> None:
        super().__init__(t, name, False, props, opts, remote)
        self.__dict__.setdefault("id", None)

    def register_outputs(self, outputs: Mapping[str, Any] | None) -> None:
        """Records the component's outputs in the state (it does not make
        attributes of them: assign those yourself)."""
        monitor = _monitor.active
        if monitor is None:
            raise RuntimeError(
                "register_outputs() needs the run that created the "
                "resource; call it from the component's constructor")
        monitor.register_outputs(self, outputs or {})


class ProviderResource(CustomResource):
    """A provider configured as a resource (``pulumi:providers:PKG``)."""

    def __init__(self, pkg: str, name: str,
                 props: Mapping[str, Any] | None = None,
                 opts: ResourceOptions | None = None) -> None:
        if opts is not None and opts.provider is not None:
            raise TypeError("Explicit providers may not be used with "
                            "provider resources")
        self.package = pkg
        super().__init__(f"pulumi:providers:{pkg}", name, props, opts)


def export(name: str, value: Any) -> None:
    """Makes ``value`` (an Output, a plain value, or a structure holding
    Outputs) a stack output called ``name``; the last export of a name
    wins."""
    dep = _monitor.active
    if dep is None:
        raise RuntimeError(
            "Failed to export output: stack outputs need a deployment; run "
            "the program with `outrun up` or `outrun preview`")
    if not isinstance(name, str) or not name:
        raise TypeError(f"outrun.export(name, value): name must be a "
                        f"non-empty string, not {name!r}")
    problem = output_value_problem(value)
    if problem is not None:
        raise TypeError(output_value_message(name, problem))
    dep.export(name, value)


def output_value_message(name: str, problem: str) -> str:
    """The error for a stack output that cannot be stored."""
    return (f"the stack output '{name}' cannot be stored: {problem}. A "
            "stack output is JSON data (str, int, finite float, bool, "
            "None, and lists and dicts of them), an Output or a Resource "
            "(stored as its URN)")


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def output_value_problem(value: Any) -> str | None:
    """Why value cannot be a stack output, or None.  Outputs, awaitables
    and Resources inside it are let through: their values are checked when
    they resolve.  Walks without recursion, so deep nesting cannot
    overflow here."""
    seen: set[int] = set()
    todo: list[tuple[Any, str]] = [(value, "")]
    while todo:
        item, where = todo.pop()
        if item is None or isinstance(item, (str, bool, int)):
            continue
        at = f"value{where}"
        if isinstance(item, float):
            if not math.isfinite(item):
                return (f"{at} is {item!r}, which JSON cannot hold; export "
                        "None or a string instead")
            continue
        if isinstance(item, (dict, list, tuple, set, frozenset)):
            if id(item) in seen:
                return f"{at} contains itself"
            seen.add(id(item))
            if isinstance(item, dict):
                for key, sub in item.items():
                    if not isinstance(key, str):
                        return (f"{at} has the key {_short_repr(key)} "
                                f"({type(key).__name__}); keys must be "
                                "strings")
                    todo.append((sub, f"{where}[{key!r}]"))
            else:
                for i, sub in enumerate(item):
                    todo.append((sub, f"{where}[{i}]"))
            continue
        if (isinstance(item, (Output, Resource)) or item is UNKNOWN
                or inspect.isawaitable(item)):
            continue
        if isinstance(item, (bytes, bytearray, memoryview)):
            return (f"{at} is bytes ({_short_repr(bytes(item))}); decode "
                    "it to a string first (value.decode(), or base64 for "
                    "binary data)")
        if callable(item):
            name = getattr(item, "__qualname__", type(item).__name__)
            return (f"{at} is a function ({name}); export what it returns "
                    "instead")
        return (f"{at} is of type {type(item).__name__} "
                f"({_short_repr(item)}); export a dict of its fields or "
                "str(value) instead")
    return None


def get_project() -> str:
    """The project's name."""
    dep = _monitor.active
    return dep.project if dep is not None else "project"


def get_stack() -> str:
    """The stack's name."""
    dep = _monitor.active
    return dep.stack if dep is not None else "stack"


def is_dry_run() -> bool:
    """True during ``outrun preview``."""
    dep = _monitor.active
    return dep is not None and dep.dry_run


__all__ = [
    "Alias",
    "ComponentResource",
    "CustomResource",
    "CustomTimeouts",
    "ProviderResource",
    "ROOT_STACK_RESOURCE",
    "Resource",
    "ResourceOptions",
    "export",
    "get_project",
    "get_stack",
    "is_dry_run",
]
