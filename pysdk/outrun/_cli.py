"""Command dispatch: ``outrun run`` goes to the program runner, every other
command the SDK implements to its own module.  The host (runtime/cli.c)
holds the list of the commands and parses the run options; this table
maps each name the host hands over (``_outrun_host.SDK_COMMANDS``, and
``run``) to the code that runs it, and tests/python/test_cli_dispatch.py
checks that the two agree."""

from __future__ import annotations

import sys
from collections.abc import Callable

from outrun import _loop, _runner
from outrun._options import RunOptions, UsageError, check_threads_env


def _run(options: RunOptions) -> int:
    check_threads_env()
    return _runner.run_program(options)


def _engine_run(options: RunOptions) -> int:
    """preview, up, destroy.  A stop signal stays deferred until the run
    begins, which acts on it before the program starts (the runner)."""
    check_threads_env()
    # Imported here, not at the top: `outrun run` does not pay for the
    # engine at start-up.
    from outrun._engine import commands

    return commands.main(options)


def _engine_admin(options: RunOptions) -> int:
    """stack, config: no program runs, a stop signal stops the command."""
    def command() -> int:
        # Start-up speed, as in _engine_run.
        from outrun._engine import stack_commands

        return stack_commands.main(options)

    return _loop.interruptible(command)


def _bench(options: RunOptions) -> int:
    check_threads_env()
    # Start-up speed; imported while stop signals are still deferred.
    from outrun import bench

    return _loop.interruptible(lambda: bench.main(
        list(options.args), host_executable=options.host_executable))


#: Each command's code, by the name the host knows it by.
COMMANDS: dict[str, Callable[[RunOptions], int]] = {
    "run": _run,
    "preview": _engine_run,
    "up": _engine_run,
    "destroy": _engine_run,
    "stack": _engine_admin,
    "config": _engine_admin,
    "bench": _bench,
}


def main(options: RunOptions) -> int:
    """Runs one command; returns the process exit code."""
    try:
        command = COMMANDS.get(options.command)
        if command is None:
            raise UsageError(f"unknown command '{options.command}'")
        return command(options)
    except SystemExit as exc:
        # argparse in an SDK command (--help, a bad option) exits this way.
        return _loop.exit_code_of(exc)
    except UsageError as exc:
        print(f"outrun: error: {exc}", file=sys.stderr)
        return _loop.EXIT_USAGE
