"""Outrun: a native runtime host for Python infrastructure programs.

Import this package from a program that ``outrun run`` executes, or from
any asyncio application that wants Outrun's native pieces without the
host.
"""

from __future__ import annotations

import importlib

import _outrun
from _outrun import UNKNOWN, Output, Unknown, contains_unknowns, deferred_output

from outrun import ffi, process
from outrun._loop import run, track
from outrun._offload import blocking, offload, to_thread

__version__: str = _outrun.__version__

# The resource model is imported on first use, so that a program (or an
# asyncio application) that only wants Outputs and offload does not pay
# for it at start-up.
_LAZY = {
    "log": ("outrun.log", None),
    "Config": ("outrun.config", "Config"),
    "ConfigMissingError": ("outrun.config", "ConfigMissingError"),
    "ConfigTypeError": ("outrun.config", "ConfigTypeError"),
    **{name: ("outrun.resource", name) for name in (
        "Alias", "ComponentResource", "CustomResource", "CustomTimeouts",
        "ProviderResource", "Resource", "ResourceOptions", "export",
        "get_project", "get_stack", "is_dry_run")},
}


def __getattr__(name: str) -> object:
    entry = _LAZY.get(name)
    if entry is None:
        raise AttributeError(f"module 'outrun' has no attribute '{name}'")
    module = importlib.import_module(entry[0])
    value = module if entry[1] is None else getattr(module, entry[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "UNKNOWN",
    "Alias",
    "ComponentResource",
    "Config",
    "ConfigMissingError",
    "ConfigTypeError",
    "CustomResource",
    "CustomTimeouts",
    "Output",
    "ProviderResource",
    "Resource",
    "ResourceOptions",
    "Unknown",
    "__version__",
    "blocking",
    "contains_unknowns",
    "deferred_output",
    "export",
    "ffi",
    "get_project",
    "get_stack",
    "is_dry_run",
    "log",
    "offload",
    "process",
    "run",
    "to_thread",
    "track",
]
