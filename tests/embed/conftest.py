"""Fixtures of the whole-process host scenarios: each runs in its own
tmp_path, with a deadline (see hostrun.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostrun import (
    DEADLINE,
    OUTRUN,
    PROGRAMS,
    Argv,
    Preexec,
    Running,
    host_env,
    run_process,
)

Runner = Callable[..., subprocess.CompletedProcess[str]]


def _runner(prefix: list[str], cwd: Path) -> Runner:
    def run(*args: str | os.PathLike[str], env: dict[str, str] | None = None,
            input: str | None = None, timeout: float = DEADLINE,
            preexec_fn: Preexec = None) -> subprocess.CompletedProcess[str]:
        return run_process([*prefix, *args], cwd=cwd, env=env, input=input,
                           timeout=timeout, preexec_fn=preexec_fn)

    return run


@pytest.fixture
def outrun(tmp_path: Path) -> Runner:
    """outrun(*args, env=, input=, timeout=): runs the host in tmp_path to
    the end and returns the CompletedProcess (text)."""
    return _runner([OUTRUN], tmp_path)


@pytest.fixture
def python3(tmp_path: Path) -> Runner:
    """python3(*args, ...): the same with the plain interpreter that runs
    the tests (the one the host embeds)."""
    return _runner([sys.executable], tmp_path)


@pytest.fixture
def program() -> Callable[[str], Path]:
    """program(name): the path of one of the programs in programs/."""
    def path(name: str) -> Path:
        p = PROGRAMS / name
        assert p.exists(), p
        return p

    return path


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """start(argv, env=, ignore_sigint=False, ignore_sighup=False): starts
    argv in tmp_path as
    a Running; killed at the end of the test if it is still alive."""
    started: list[Running] = []

    def begin(argv: Argv, env: dict[str, str] | None = None,
              ignore_sigint: bool = False,
              ignore_sighup: bool = False) -> Running:
        r = Running(argv, tmp_path, host_env() if env is None else env,
                    ignore_sigint, ignore_sighup)
        started.append(r)
        return r

    yield begin
    for r in started:
        r.kill()


@pytest.fixture(scope="session")
def embedded_python() -> str:
    """The major.minor version of the Python the host embeds."""
    out = subprocess.run([OUTRUN, "--version"], capture_output=True,
                         text=True, timeout=DEADLINE, check=True).stdout
    # "outrun 0.1.0 (Python 3.11)"
    return out.split("(Python ", 1)[1].split(")", 1)[0]
