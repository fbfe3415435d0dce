"""Messages from the program to the run's display: ``outrun.log.info(...)``.

Under ``outrun up`` / ``preview`` they appear among the run's events (and
as JSON events with ``--json``); elsewhere they go to standard error.
Either way, the plaintext of every secret the run knows is shown as
``[secret]``.
"""

from __future__ import annotations

import sys
from typing import Any

from outrun import _monitor, _secrets


def _emit(level: str, msg: str, resource: Any = None) -> None:
    monitor = _monitor.active
    urn = None
    if resource is not None:
        step = getattr(resource, "_step", None)
        urn = step.urn if step is not None else None
    if monitor is not None:
        monitor.log(level, str(msg), urn)
        return
    if level == "debug":
        return
    # Under a run the display masks secrets; here, this does.
    print(_secrets.mask(f"{level}: {msg}"), file=sys.stderr, flush=True)


def debug(msg: str, resource: Any = None, stream_id: int | None = None,
          ephemeral: bool | None = None) -> None:
    """A message shown only with OUTRUN_LOG=debug or --json."""
    _emit("debug", msg, resource)


def info(msg: str, resource: Any = None, stream_id: int | None = None,
         ephemeral: bool | None = None) -> None:
    _emit("info", msg, resource)


def warn(msg: str, resource: Any = None, stream_id: int | None = None,
         ephemeral: bool | None = None) -> None:
    _emit("warning", msg, resource)


def error(msg: str, resource: Any = None, stream_id: int | None = None,
          ephemeral: bool | None = None) -> None:
    """An error message; under a run it also makes the run fail."""
    _emit("error", msg, resource)


__all__ = ["debug", "error", "info", "warn"]
