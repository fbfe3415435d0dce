"""Type stubs for `_outrun_host`, the module the outrun host builds in
(runtime/host.c); it exists only inside the host."""

from collections.abc import Iterable

version: str
"""The Outrun version of the host."""

def arm_interrupts(signals: Iterable[int] = ..., /) -> int:
    """Puts the host's handler in front of Python's for the stop signals;
    returns a signal that arrived during start-up, or 0."""

def defer_interrupts(signals: Iterable[int], /) -> None:
    """After a run: the host counts stop signals again without passing them
    to Python."""

def interrupt_count() -> int:
    """How many stop signals the host has seen since arm_interrupts()."""

SDK_COMMANDS: tuple[str, ...]
"""The commands the SDK implements (runtime/cli.c's one list)."""

RUN_COMMANDS: tuple[str, ...]
"""`run` and the SDK commands that run a program: those the host parses
the run options of."""

def find_venv(project_dir: str | None, /) -> str | None:
    """The virtual environment of a run of the project in project_dir, as
    `outrun run` finds it; raises ValueError when it cannot be used."""
