"""The command line: usage errors (exit 2, one 'outrun: error:' line, no
traceback), --version and the help of every command."""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path

import pytest
from hostrun import assert_usage_error, host_env

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2


def _prepare(tmp_path: Path) -> None:
    (tmp_path / "empty_folder").mkdir()
    (tmp_path / "hello.py").write_text("print('must not run')\n")


@pytest.mark.parametrize(("args", "mentions"), [
    (["run", "missing.py"], "'missing.py': no such file"),
    (["run", "empty_folder"], "no __main__.py"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["--frobnicate"], "unknown option '--frobnicate'"),
    (["help", "frobnicate"], "unknown command 'frobnicate'"),
    (["run"], "missing PROGRAM"),
    (["run", "--loop", "tokio", "hello.py"], "'tokio'"),
    (["run", "--loop"], "--loop needs a value"),
    (["run", "--bogus", "hello.py"], "unknown option '--bogus'"),
])
def test_usage_error(outrun, tmp_path, args, mentions):
    _prepare(tmp_path)

    proc = outrun(*args)

    assert mentions in assert_usage_error(proc)
    assert proc.stdout == ""


def test_virtual_env_that_is_no_venv_is_a_usage_error(outrun, tmp_path):
    _prepare(tmp_path)

    proc = outrun("run", "hello.py",
                  env=host_env(VIRTUAL_ENV=str(tmp_path / "empty_folder")))

    assert "VIRTUAL_ENV" in assert_usage_error(proc)
    assert proc.stdout == ""


def _drop_file_permission_override() -> None:
    """In the child, before exec: root without the capabilities that let
    it read any file, so that file permissions apply to it as to anyone."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_program_is_a_usage_error(outrun, tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_text("print('must not run')\n")
    secret.chmod(0)
    preexec = None
    if os.geteuid() == 0:
        # chmod 000 does not stop root: run the host as root without
        # CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH instead.
        preexec = _drop_file_permission_override
    try:
        proc = outrun("run", secret, preexec_fn=preexec)
    except OSError as exc:  # prctl refused: no CAP_SETPCAP here
        pytest.skip(f"running as root and cannot drop CAP_DAC_OVERRIDE "
                    f"({exc}), so no file is unreadable to the host")

    first = assert_usage_error(proc)
    assert "not readable" in first
    assert proc.stdout == ""


# --version and help -------------------------------------------------------


def test_version(outrun):
    proc = outrun("--version")

    assert proc.returncode == 0
    assert re.fullmatch(r"outrun (\S+) \(Python 3\.\d+\)\n", proc.stdout)
    sdk = outrun("python", "-c", "import outrun; print(outrun.__version__)")
    assert proc.stdout.split()[1] == sdk.stdout.strip()


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["help"], []])
def test_help(outrun, args):
    proc = outrun(*args)

    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: outrun ")
    for text in ("run PROGRAM", "python", "bench", "exit codes"):
        assert text in proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize(("args", "usage", "mentions"), [
    (["run", "--help"], "usage: outrun run ", "--loop"),
    (["run", "-h"], "usage: outrun run ", "--loop"),
    (["help", "run"], "usage: outrun run ", "--loop"),
    (["bench", "--help"], "usage: outrun bench ", "--json"),
    (["help", "bench"], "usage: outrun bench ", "--json"),
    (["help", "python"], "usage: outrun python ", "-m MODULE"),
])
def test_command_help(outrun, args, usage, mentions):
    proc = outrun(*args)

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(usage)
    assert mentions in proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize("command", ["run", "bench"])
def test_help_command_is_command_help(outrun, command):
    assert (outrun("help", command).stdout
            == outrun(command, "--help").stdout)
