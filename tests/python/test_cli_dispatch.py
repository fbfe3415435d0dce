"""The command line's one list and one options object: the host holds the
list of commands (runtime/cli.c), the SDK's dispatch table
(outrun/_cli.py) maps exactly those names to code, and the options dict
the host hands over becomes one RunOptions with the host's limits."""

from __future__ import annotations

import _outrun
import pytest

from outrun import _cli
from outrun._options import RunOptions


def test_the_dispatch_table_covers_the_hosts_commands_and_no_other():
    host = pytest.importorskip("_outrun_host",
                               reason="the host's module exists only in it")
    assert set(_cli.COMMANDS) == {"run", *host.SDK_COMMANDS}
    assert "run" in host.RUN_COMMANDS
    assert set(host.RUN_COMMANDS) == {"run", "preview", "up", "destroy"}


def test_options_from_the_host_dict():
    options = RunOptions.from_host({
        "command": "up", "argv": ["-C", "proj", "--json"], "loop": "uvloop",
        "threads": 3, "stall_warning_ms": 250.0, "debug_pending": 0.5,
        "venv": "/v", "main_file": None, "project_dir": None,
        "sdk_dir": "/sdk", "host_executable": "/bin/outrun"})

    assert options == RunOptions(
        command="up", args=("-C", "proj", "--json"), loop="uvloop",
        threads=3, stall_warning_ms=250.0, debug_pending=0.5, venv="/v",
        host_executable="/bin/outrun")
    with pytest.raises(AttributeError):
        options.threads = 4  # type: ignore[misc]


def test_options_left_out_are_not_asked_for():
    # None from the host: --stall-warning 0, no --threads, no
    # --debug-pending; a dict without them (a test driving a command in
    # process) asks for nothing either.
    off = RunOptions.from_host({"command": "run", "threads": None,
                                "stall_warning_ms": None,
                                "debug_pending": None, "loop": None})
    assert off == RunOptions.from_host({"command": "run"}) == RunOptions()
    assert (off.threads, off.stall_warning_ms, off.debug_pending,
            off.loop) == (None, None, None, "asyncio")


def test_parallel_defaults_to_the_pools_size():
    assert RunOptions().parallel == _outrun.THREADS_DEFAULT
