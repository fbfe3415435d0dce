"""The entry point the outrun host (runtime/host.c) calls once the
interpreter is up: the options dict the host parsed becomes one
:class:`~outrun._options.RunOptions`, which the command line's dispatch
(outrun/_cli.py) runs.

Host entry -> dispatch -> the program runner (outrun/_runner.py) or an
engine command; the loop runtime of a run is outrun/_loop.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outrun import _cli
from outrun._options import RunOptions


def main(options: Mapping[str, Any]) -> int:
    """Entry point of the outrun host.  Returns the process exit code."""
    return _cli.main(RunOptions.from_host(options))

