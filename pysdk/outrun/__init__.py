"""Outrun: a native runtime host for Python infrastructure programs.

Import this package from a program that ``outrun run`` executes, or from
any asyncio application that wants Outrun's native pieces without the
host.
"""

from __future__ import annotations

import _outrun

from outrun._host import run, track

__version__: str = _outrun.__version__

__all__ = ["__version__", "run", "track"]
