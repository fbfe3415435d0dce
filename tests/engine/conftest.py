"""Fixtures of the engine's whole-process scenarios: each test gets a
project folder with the test provider (support/worldprov.py) beside its
__main__.py, a world folder the provider's Things live in, and runs
``outrun <command> -C DIR`` with a deadline (tests/embed/hostrun.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "embed"))

from hostrun import (
    DEADLINE,
    OUTRUN,
    host_env,
    run_process,
    stop_signals_preexec,
)

SUPPORT = Path(__file__).resolve().parent / "support"
PASSPHRASE = "correct horse battery staple"


class Project:
    """A project folder, its world, and the commands run on it."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "proj"
        self.world = root / "world"
        self.dir.mkdir()
        self.world.mkdir()
        shutil.copy(SUPPORT / "worldprov.py", self.dir / "worldprov.py")
        self.env = host_env(WORLD_DIR=str(self.world),
                            OUTRUN_CONFIG_PASSPHRASE=PASSPHRASE,
                            NO_COLOR=None, OUTRUN_STACK=None,
                            OUTRUN_LOG=None)
        self.started: list[subprocess.Popen[str]] = []

    @property
    def state_db(self) -> Path:
        return self.dir / ".outrun" / "state.db"

    def write(self, source: str) -> None:
        """The program: source (dedented) as __main__.py."""
        (self.dir / "__main__.py").write_text(textwrap.dedent(source))

    def argv(self, command: str, *args: str) -> list[str]:
        """outrun COMMAND [ACTION] -C DIR ARGS: the action of `stack` and
        `config` comes before -C."""
        words = command.split()
        return [OUTRUN, *words, "-C", str(self.dir), *args]

    def run(self, command: str, *args: str,
            env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
        """Runs the command to the end (stdin not a tty)."""
        return run_process(self.argv(command, *args), cwd=self.dir,
                           env=self.env if env is None else env,
                           input=input, timeout=timeout)

    def ok(self, command: str, *args: str,
           **kw: Any) -> subprocess.CompletedProcess[str]:
        """run(), checking exit 0."""
        proc = self.run(command, *args, **kw)
        assert proc.returncode == 0, _explain(proc)
        return proc

    def events(self, command: str, *args: str,
               expect: int | None = 0, **kw: Any,
               ) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
        """Runs the command with --json; every stdout line must be JSON
        and the last a summary.  Returns (events, process)."""
        proc = self.run(command, "--json", *args, **kw)
        if expect is not None:
            assert proc.returncode == expect, _explain(proc)
        events = []
        for line in proc.stdout.splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                pytest.fail(f"not JSON: {line!r}\n{_explain(proc)}")
        assert events and events[-1]["event"] == "summary", _explain(proc)
        return events, proc

    def summary(self, command: str, *args: str, expect: int | None = 0,
                **kw: Any) -> dict[str, Any]:
        return self.events(command, *args, expect=expect, **kw)[0][-1]

    def start(self, command: str, *args: str) -> subprocess.Popen[str]:
        """Starts the command; killed at the end of the test if alive."""
        proc = subprocess.Popen(
            self.argv(command, *args), cwd=self.dir, env=self.env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            preexec_fn=stop_signals_preexec())  # noqa: PLW1509
        self.started.append(proc)
        return proc

    def ops(self) -> list[dict[str, Any]]:
        """The provider's log: one dict per line, in order."""
        path = self.world / "ops.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def ops_done(self, *kinds: str) -> list[dict[str, Any]]:
        """The end lines of the operations (not the "start" markers),
        only those of kinds when given."""
        return [o for o in self.ops() if o["op"] != "start"
                and (not kinds or o["op"] in kinds)]

    def clear_ops(self) -> None:
        (self.world / "ops.log").unlink(missing_ok=True)

    def things(self) -> dict[str, Any]:
        """The world: Thing name -> value."""
        out = {}
        for p in self.world.iterdir():
            if p.name == "ops.log" or p.name.endswith(".tmp"):
                continue
            out[p.name] = json.loads(p.read_text())["value"]
        return out

    def wait_for(self, what: Callable[[], bool], proc: subprocess.Popen[str],
                 description: str, timeout: float = DEADLINE) -> None:
        """Polls what() until it is true; fails if proc ends first or the
        deadline passes."""
        end = time.monotonic() + timeout
        while not what():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"{proc.args} exited with {proc.returncode} "
                            f"before {description}; stdout {out!r}, "
                            f"stderr {err!r}")
            if time.monotonic() > end:
                pytest.fail(f"no {description} within {timeout} s")
            time.sleep(0.01)

    def finish(self, proc: subprocess.Popen[str],
               timeout: float = DEADLINE) -> tuple[int, str, str]:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"{proc.args} did not finish within {timeout} s; "
                        f"stdout {out!r}, stderr {err!r}")
        return proc.returncode, out, err

    def kill(self, proc: subprocess.Popen[str]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=DEADLINE)

    def cleanup(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def _explain(proc: subprocess.CompletedProcess[str]) -> str:
    return (f"{proc.args[1:]} exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")


explain = _explain


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A fresh project folder with the test provider and its world."""
    p = Project(tmp_path)
    yield p
    p.cleanup()


def ops_of(ops: list[dict[str, Any]], kind: str) -> list[str]:
    """The names of the operations of one kind, in log order."""
    return [o["name"] for o in ops if o["op"] == kind]


def index_of(ops: list[dict[str, Any]], kind: str, name: str) -> int:
    found = [i for i, o in enumerate(ops)
             if o["op"] == kind and o["name"] == name]
    assert len(found) == 1, (kind, name, ops)
    return found[0]


os.environ.setdefault("OUTRUN", OUTRUN)
