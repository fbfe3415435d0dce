"""Outrun: a native runtime host for Python infrastructure programs.

Import this package from a program that ``outrun run`` executes, or from
any asyncio application that wants Outrun's native pieces without the
host.
"""

from __future__ import annotations

import _outrun
from _outrun import UNKNOWN, Output, Unknown, contains_unknowns, deferred_output

from outrun import ffi, process
from outrun._host import run, track
from outrun._offload import blocking, offload, to_thread

__version__: str = _outrun.__version__

__all__ = [
    "UNKNOWN",
    "Output",
    "Unknown",
    "__version__",
    "blocking",
    "contains_unknowns",
    "deferred_output",
    "ffi",
    "offload",
    "process",
    "run",
    "to_thread",
    "track",
]
