"""Outrun: a native runtime host for Python infrastructure programs.

Import this package from a program that ``outrun run`` executes, or from
any asyncio application that wants Outrun's native pieces without the
host.
"""

from __future__ import annotations

import _outrun
from _outrun import UNKNOWN, Output, Unknown, contains_unknowns, deferred_output

from outrun import ffi, log, process
from outrun._host import run, track
from outrun._offload import blocking, offload, to_thread
from outrun.config import Config, ConfigMissingError, ConfigTypeError
from outrun.resource import (
    Alias,
    ComponentResource,
    CustomResource,
    CustomTimeouts,
    ProviderResource,
    Resource,
    ResourceOptions,
    export,
    get_project,
    get_stack,
    is_dry_run,
)

__version__: str = _outrun.__version__

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
