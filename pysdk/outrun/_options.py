"""The options of one run, parsed once and carried as one object.

The host (runtime/cli.c) is the one parser of the run options --loop,
--threads, --stall-warning and --debug-pending, for ``outrun run`` and for
the engine's preview, up and destroy; it hands their values over in the
options dict that :func:`RunOptions.from_host` reads.  The engine's
commands parse their own flags (-C, -s, --parallel, --json, --yes) and
fill in the rest of the same object.  The limits and defaults are the
host's (runtime/run_limits.h, exported by ``_outrun``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import _outrun


class UsageError(Exception):
    """A mistake in how outrun was invoked; exit code 2."""


class RunOptions(NamedTuple):
    """What one command is told to do, immutable (``_replace`` makes a
    changed copy).  Fields left at their defaults mean "not asked for";
    the host passes its own defaults explicitly.

    A NamedTuple rather than a frozen dataclass: every ``outrun run``
    builds this class at start-up, and a dataclass's generated methods
    cost four times as long to make."""

    #: The command: ``run``, ``preview``, ``up``, ``destroy``, ``bench``,
    #: ``stack`` or ``config``.
    command: str = "run"
    #: The arguments that are the SDK command's own (for argparse), the
    #: run options taken out.
    args: tuple[str, ...] = ()
    #: The program's file and its project folder (sys.path[0]).
    main_file: str | None = None
    project_dir: str | None = None
    #: The virtual environment of the run (layout.c's discovery), or None.
    venv: str | None = None
    #: The event loop: "asyncio" or "uvloop".
    loop: str = "asyncio"
    #: Native pool threads; None: OUTRUN_THREADS, else THREADS_DEFAULT.
    threads: int | None = None
    #: The stall watchdog's threshold in ms; None: off.
    stall_warning_ms: float | None = None
    #: --debug-pending's seconds; None: off.
    debug_pending: float | None = None
    #: The engine's stack (validated), and its bound on provider
    #: operations at once.
    stack: str | None = None
    parallel: int = _outrun.THREADS_DEFAULT
    #: --json: one JSON event per line.  --yes: no confirmation question.
    json: bool = False
    yes: bool = False
    #: The pool outlives the run (a process that runs several commands);
    #: False: the run stops it at its end.
    keep_pool: bool = False
    #: The outrun executable itself, when the host runs the command.
    host_executable: str | None = None

    @classmethod
    def from_host(cls, options: Mapping[str, Any]) -> RunOptions:
        """The options dict the host builds (runtime/host.c,
        make_options), as one object."""
        threads = options.get("threads")
        stall = options.get("stall_warning_ms")
        pending = options.get("debug_pending")
        return cls(
            command=options.get("command") or "",
            args=tuple(options.get("argv") or ()),
            main_file=options.get("main_file"),
            project_dir=options.get("project_dir"),
            venv=options.get("venv"),
            loop=options.get("loop") or "asyncio",
            threads=int(threads) if threads else None,
            stall_warning_ms=float(stall) if stall else None,
            debug_pending=float(pending) if pending else None,
            host_executable=options.get("host_executable"),
        )


def check_threads_env() -> None:
    """OUTRUN_THREADS, when set, is a number of pool threads from 1 to
    THREADS_MAX (the pool would otherwise fall back to its default
    silently)."""
    text = os.environ.get("OUTRUN_THREADS", "")
    if not text:
        return
    try:
        n = int(text, 10)
    except ValueError:
        n = 0
    if not 1 <= n <= _outrun.THREADS_MAX or not text.strip().isdigit():
        raise UsageError(f"OUTRUN_THREADS is '{text}': give a number of "
                         f"pool threads from 1 to {_outrun.THREADS_MAX}, "
                         "or unset it")
