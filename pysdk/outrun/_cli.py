"""The outrun commands that the Python SDK implements (the host parses
``run`` and ``python`` itself and hands the rest here)."""

from __future__ import annotations

from typing import Any


def main(command: str | None, argv: list[str], options: dict[str, Any]) -> int:
    """Runs one SDK command; returns its exit code."""
    if command == "bench":
        from outrun.bench import main as bench_main

        return bench_main(argv, host_executable=options.get("host_executable"))
    if command in ("preview", "up", "destroy", "stack", "config"):
        from outrun._engine import commands

        return commands.main(command, argv, options)
    from outrun._host import UsageError

    raise UsageError(f"unknown command '{command}'")
