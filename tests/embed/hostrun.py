"""Running the outrun host as a subprocess with a deadline, so that a hang
fails a scenario instead of stalling the suite."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest

SOURCE_DIR = Path(os.environ.get("OUTRUN_SOURCE_DIR",
                                 Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("OUTRUN_BUILD_DIR", SOURCE_DIR / "build"))
OUTRUN = os.environ.get("OUTRUN", str(BUILD_DIR / "outrun"))


def _sanitized() -> bool:
    """Whether the build under test has sanitizers (b_sanitize), which
    make the host several times slower."""
    try:
        with open(BUILD_DIR / "meson-info" / "intro-buildoptions.json") as f:
            options = json.load(f)
    except (OSError, ValueError):
        return False
    value = next((o["value"] for o in options
                  if o["name"] == "b_sanitize"), "none")
    return value not in ("none", [], ["none"])


SANITIZED = _sanitized()
PROGRAMS = Path(__file__).resolve().parent / "programs"

# How long a scenario may take before it counts as a hang.  Generous: the
# machines are shared, and only a hang should trip it.
DEADLINE = 60.0
# How long an exit after Ctrl-C may take: a third of the 60 s sleeps in the
# programs, so passing proves the host did not wait them out.
PROMPT = 20.0

Argv = Sequence[str | os.PathLike[str]]
Preexec = Callable[[], None] | None


def host_env(**changes: str | None) -> dict[str, str]:
    """The environment of a scenario: this one, with the SDK and the
    extension module importable (as the meson test environment has them),
    no bytecode written next to the programs, no virtual environment
    inherited, and changes applied (None removes a variable)."""
    env = dict(os.environ)
    paths = [str(SOURCE_DIR / "pysdk"), str(BUILD_DIR / "bindings")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("VIRTUAL_ENV", None)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def stop_signals_preexec(ignore_sigint: bool = False,
                         ignore_sighup: bool = False) -> Callable[[], None]:
    """A preexec_fn that sets the stop signals' dispositions in the child
    explicitly, whatever this process inherited: a suite started under
    nohup has SIGHUP ignored, and one run as a background job SIGINT, and
    the host (rightly) keeps an ignored disposition."""

    def preexec() -> None:
        signal.signal(signal.SIGINT,
                      signal.SIG_IGN if ignore_sigint else signal.SIG_DFL)
        signal.signal(signal.SIGHUP,
                      signal.SIG_IGN if ignore_sighup else signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    return preexec


def run_process(argv: Argv, *, cwd: Path, env: dict[str, str] | None = None,
                input: str | None = None, timeout: float = DEADLINE,
                preexec_fn: Preexec = None,
                ) -> subprocess.CompletedProcess[str]:
    """Runs argv to the end in cwd; a run past timeout fails the test."""
    args = [str(a) for a in argv]
    try:
        return subprocess.run(
            args, cwd=cwd, env=host_env() if env is None else env,
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True, text=True, timeout=timeout,
            preexec_fn=preexec_fn, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{args} did not finish within {timeout} s "
                    f"(stdout: {exc.stdout!r}, stderr: {exc.stderr!r})")


def process_gone(pid: int) -> bool:
    """The process has exited (or is only a zombie no one reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def line_of(path: Path, marker: str) -> int:
    """The number of the one line of path that contains marker."""
    found = [n for n, text in enumerate(path.read_text().splitlines(), 1)
             if marker in text]
    assert len(found) == 1, (path, marker, found)
    return found[0]


def assert_usage_error(proc: subprocess.CompletedProcess[str]) -> str:
    """Checks the shape of a usage error and returns its first line: exit
    2, one 'outrun: error:' line first on stderr, no Python traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    first = proc.stderr.splitlines()[0] if proc.stderr else ""
    assert first.startswith("outrun: error:"), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return first


class Running:
    """A process in flight whose stdout is read line by line, each wait
    with a deadline."""

    def __init__(self, argv: Argv, cwd: Path, env: dict[str, str],
                 ignore_sigint: bool = False,
                 ignore_sighup: bool = False) -> None:
        # The child gets SIGINT's disposition set explicitly, whatever this
        # process inherited (a suite run as a background job has SIGINT
        # ignored, which would carry over to the child).
        # The reader threads of earlier processes may be alive: the child
        # only calls sigaction() before exec, which takes no lock.
        self.argv = [str(a) for a in argv]
        self.proc = subprocess.Popen(
            self.argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=stop_signals_preexec(  # noqa: PLW1509
                ignore_sigint=ignore_sigint, ignore_sighup=ignore_sighup))
        self.stdout: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def expect(self, wanted: str, timeout: float = DEADLINE) -> None:
        """Waits until the program prints the line wanted."""
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                self._hung(f"print {wanted!r}", timeout)
            if line is None:
                code = self.proc.wait(timeout)
                pytest.fail(f"{self.argv} exited with {code} before "
                            f"printing {wanted!r}; printed {self.stdout}, "
                            f"stderr {self._stderr()!r}")
            self.stdout.append(line)
            if line == wanted:
                return

    def interrupt(self) -> None:
        """Ctrl-C: sends SIGINT to the process."""
        self.proc.send_signal(signal.SIGINT)

    def finish(self, input: str = "", timeout: float = DEADLINE,
               ) -> tuple[int, list[str], str]:
        """Writes input, closes stdin and waits for the exit; returns (exit
        code, every line printed, stderr)."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(input)
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._hung("exit", timeout)
        self._reader.join(timeout)
        while not self._lines.empty():
            line = self._lines.get_nowait()
            if line is not None:
                self.stdout.append(line)
        return code, self.stdout, self._stderr()

    def _hung(self, what: str, timeout: float) -> NoReturn:
        self.kill()
        pytest.fail(f"{self.argv} did not {what} within {timeout} s; "
                    f"printed {self.stdout}")

    def _stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def kill(self) -> None:
        """Ends the process if it is still alive and closes its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None and not f.closed:
                try:
                    f.close()
                except BrokenPipeError:
                    pass


def run_bench(outrun: Callable[..., subprocess.CompletedProcess[str]],
              tmp_path: Path, scenario: str,
              env: dict[str, str] | None = None,
              ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Runs ``outrun bench SCENARIO --runs 1 --scale 0.01 --json FILE``
    with the outrun fixture, checks that it succeeded, printed its table
    and wrote the JSON at that scale; returns the process and the JSON."""
    out = tmp_path / f"{scenario}.json"
    proc = outrun("bench", scenario, "--runs", "1", "--scale", "0.01",
                  "--json", out, env=env, timeout=3 * DEADLINE)
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout.splitlines()
    assert table[0].split()[:2] == ["scenario", "peer"]
    doc = json.loads(out.read_text())
    assert doc["meta"]["scale"] == 0.01
    return proc, doc
