"""Engine: ``outrun up`` and ``outrun preview`` beside pulumi's SDK under
its mocks, on programs of N RandomString resources.

Two programs, each at N = 100, 1,000, 10,000 and 100,000 (times --scale):

- chained: each resource takes the previous one's result as an input
  (``keepers={"prev": prev.result}``), so every registration waits for
  the one before it;
- independent: the same resources with no inputs from one another.

On Outrun's side each sample is a fresh project folder and three runs of
the host, each a fresh process: ``outrun preview`` of the empty stack (N
to create), ``outrun up`` from empty (N created) and ``outrun up`` again
(nothing changes: N unchanged), all with ``--json``.  The last JSON event
is the run's summary: its ``counts`` are checked and its ``duration`` (the
engine's own clock, program start to end) is the program wall.  The
program exports ``sys.getrecursionlimit()``, which shows that no run
needed the limit raised.

The peer is the ``pulumi`` package running the same programs the way its
unit tests do: ``pulumi.runtime.set_mocks`` with trivial ``Mocks`` (every
resource gets ``name + "_id"`` and its inputs back), the resources made
inside a function decorated with ``@pulumi.runtime.test``, each run a
fresh ``python`` process (the benchmark environment's, or ``outrun
python`` when it can import pulumi).  Its program wall is the time of the
decorated call, measured inside that process.  pulumi's SDK does the same
work whether a run creates, changes nothing or previews (the mocks keep
no state), so one measurement of it is the peer of all three of Outrun's
runs.  Its chained program needs the recursion limit raised past about
970 resources (pulumi's dependency-cycle check recurses once per level),
so the peer runs chained programs with the limit at 100,000, and not at
all where it takes longer than PEER_BUDGET.

Every side's process wall is measured around the subprocess, and its peak
RSS read from ``os.wait4``; memory per resource is (peak RSS - the same
side's peak RSS with N = 0) / N.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from outrun.bench._harness import Row, median, rotate

# The sizes at --scale 1.
SIZES = (100, 1_000, 10_000, 100_000)
PROGRAMS = ("chained", "independent")

# The most outrun/peer may be, in program wall, for an up from empty of
# the chained program at 1,000 and the independent one at 10,000: 50
# times faster.  Every goal is set on the sizes it names, whatever
# --scale gives: a row of another size carries none.
RATIO_GOAL = 1 / 50
RATIO_GOAL_AT = {"chained": 1_000, "independent": 10_000}
# The most Outrun's cost per resource at the largest size may be, as a
# multiple of its cost per resource at 1,000: linear growth.
GROWTH_GOAL = 1.5
GROWTH_FROM, GROWTH_TO = 1_000, 100_000
# The most Outrun's memory per resource may be beside the peer's: 5 times
# less.  Judged from 1,000 resources on (below, the noise of the baseline
# is as large as what is counted).
MEMORY_GOAL = 1 / 5
MEMORY_GOAL_FROM = 1_000

# CPython's default recursion limit: the goal is that Outrun never needs
# more at any size.
DEFAULT_RECURSION_LIMIT = 1_000
# What the peer's chained program runs under: with the default, pulumi
# fails with RecursionError at about 970 chained resources.
PEER_RECURSION_LIMIT = 100_000

# The most one peer run may take.  The peer is run only up to the sizes
# where it takes less on the development machine (perf-anchors.md, C3):
# chained 1,000 takes ~7 s and 2,000 ~50 s (it grows as N cubed, and
# 10,000 does not finish in 10 minutes); independent 10,000 takes ~11 s
# and grows faster than N.  A size whose peer run took longer than this
# leaves the larger sizes of that program without a peer.
PEER_BUDGET = 30.0
PEER_MAX_N = {"chained": 1_000, "independent": 10_000}
# A run that takes longer than this counts as hung and is killed: for
# the peer, the row says so; for Outrun, the benchmark fails.
PEER_TIMEOUT = 300.0
OUTRUN_TIMEOUT = 1_800.0

# The passphrase of the benchmark's throwaway stacks.
PASSPHRASE = "outrun-bench"

# Sizes up to this many resources are measured runs times after a warm-up
# round; larger ones fewer times (LARGE_RUNS at most, none thrown away).
SMALL_N = 1_000
LARGE_RUNS = 2
HUGE_N = 100_000

OUTRUN_PROGRAM = '''\
import sys

import outrun
from outrun.providers.random import RandomString

N = {n}
CHAINED = {chained}
prev = None
for i in range(N):
    prev = RandomString(
        f"s{{i}}", length=16,
        keepers={{"prev": prev.result}} if (CHAINED and prev) else None)
outrun.export("recursion_limit", sys.getrecursionlimit())
'''

PEER_PROGRAM = '''\
import json
import sys
import time

n, program, limit = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if limit:
    sys.setrecursionlimit(limit)

import pulumi


class TrivialMocks(pulumi.runtime.Mocks):
    """Every resource gets an id made of its name and returns its inputs;
    every call returns nothing."""

    def __init__(self):
        self.created = 0

    def new_resource(self, args):
        self.created += 1
        return f"{args.name}_id", args.inputs

    def call(self, args):
        return {}, None


mocks = TrivialMocks()
pulumi.runtime.set_mocks(mocks, project="bench", stack="bench",
                         preview=False)


@pulumi.runtime.test
def main():
    prev = None
    for i in range(n):
        inputs = {"length": 16}
        if program == "chained" and prev is not None:
            # The id of a RandomString is its result.
            inputs["keepers"] = {"prev": prev.id}
        prev = pulumi.CustomResource(
            "random:index/randomString:RandomString", f"s{i}", inputs)
    # Returned, so that the test waits for the last id too.
    return prev.id if prev is not None else None


start = time.perf_counter()
main()
elapsed = time.perf_counter() - start
print(json.dumps({"program_wall": elapsed, "created": mocks.created,
                  "recursion_limit": sys.getrecursionlimit()}))
'''


class PeerTimeout(Exception):
    """A peer run took longer than PEER_TIMEOUT."""


@dataclass
class Child:
    """One finished process: its wall time, peak RSS and what it
    printed."""

    wall: float
    peak_rss: int  # bytes
    stdout_tail: str
    stderr: str


def _tail(path: str, size: int = 65_536) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - size))
        return f.read().decode(errors="replace")


def run_child(argv: list[str], cwd: str, env: dict[str, str],
              timeout: float) -> Child:
    """Runs argv to the end, its output to files in cwd, and measures its
    wall time (around the subprocess) and peak RSS (os.wait4).  A run
    past timeout is killed and raises TimeoutError; a failing one raises
    RuntimeError."""
    out_path = os.path.join(cwd, ".bench-stdout")
    err_path = os.path.join(cwd, ".bench-stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err)
        # os.wait4 has no timeout: a timer kills a hung child instead,
        # through a pidfd, which cannot reach another process once this
        # one is reaped and its pid reused.
        pidfd = os.pidfd_open(proc.pid)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            timer.join()
            os.close(pidfd)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = _tail(err_path, 4_096)
    if timed_out.is_set():
        raise TimeoutError(f"{argv} did not finish within {timeout:.0f} s")
    if proc.returncode != 0:
        raise RuntimeError(
            f"benchmark command {argv} exited with {proc.returncode}: "
            + stderr.strip()[-1_000:])
    # ru_maxrss is in KiB on Linux.
    return Child(wall=wall, peak_rss=usage.ru_maxrss * 1024,
                 stdout_tail=_tail(out_path), stderr=stderr)


def _last_json(child: Child, what: str) -> dict[str, Any]:
    lines = [line for line in child.stdout_tail.splitlines() if line.strip()]
    try:
        doc = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError(
            f"{what} printed no JSON at the end: "
            f"{child.stdout_tail[-300:]!r}, stderr {child.stderr[-500:]!r}"
        ) from None
    if not isinstance(doc, dict):
        # RuntimeError, as every failed run: the harness reports it.
        raise RuntimeError(  # noqa: TRY004
            f"{what} ended with {doc!r}, not an object")
    return doc


# ---------------------------------------------------------------------------
# Outrun's side

OPS = ("preview", "up", "no-op up")
# What each run must report: the one count of N it must have, every other
# count zero.
EXPECTED = {"preview": "create", "up": "create", "no-op up": "same"}


@dataclass
class RunResult:
    """One run of one side: program wall, process wall and peak RSS."""

    program_wall: float
    process_wall: float
    peak_rss: int
    recursion_limit: int = 0


@dataclass
class OutrunSide:
    host: str
    workdir: str
    env: dict[str, str]
    samples: int = 0

    def sample(self, program: str, n: int) -> dict[str, RunResult]:
        """A fresh project of the program at n: preview, up, up again."""
        self.samples += 1
        project = os.path.join(self.workdir, f"outrun-{self.samples}",
                               "bench")
        os.makedirs(project)
        try:
            with open(os.path.join(project, "__main__.py"), "w",
                      encoding="utf-8") as f:
                f.write(OUTRUN_PROGRAM.format(
                    n=n, chained=program == "chained"))
            return {op: self._run(op, project, program, n) for op in OPS}
        finally:
            shutil.rmtree(os.path.dirname(project), ignore_errors=True)

    def _run(self, op: str, project: str, program: str,
             n: int) -> RunResult:
        command = "preview" if op == "preview" else "up"
        argv = [self.host, command, "--json", "-C", project]
        what = f"outrun {op} of the {program} program at {n:,}"
        child = run_child(argv, project, self.env, OUTRUN_TIMEOUT)
        summary = _last_json(child, what)
        if summary.get("event") != "summary":
            raise RuntimeError(f"{what} ended with {summary!r}, not its "
                               "summary")
        if summary.get("result") != "succeeded":
            raise RuntimeError(f"{what}: {summary.get('result')}: "
                               f"{summary.get('failures')}")
        counts = {k: v for k, v in (summary.get("counts") or {}).items()
                  if v}
        want = {EXPECTED[op]: n} if n else {}
        if counts != want:
            raise RuntimeError(f"{what} counted {counts}, not {want}")
        limit = 0
        if command == "up":
            limit = (summary.get("outputs") or {}).get("recursion_limit", 0)
            if not isinstance(limit, int) or limit <= 0:
                raise RuntimeError(f"{what} exported no recursion limit: "
                                   f"{summary.get('outputs')!r}")
        return RunResult(program_wall=float(summary["duration"]),
                         process_wall=child.wall, peak_rss=child.peak_rss,
                         recursion_limit=limit)


# ---------------------------------------------------------------------------
# The peer's side

def find_peer(host: str) -> tuple[list[str] | None, str]:
    """The command that runs a Python script with pulumi importable, and
    the peer's name; or None and why there is none.  The benchmark
    environment's own python (VIRTUAL_ENV, which scripts/bench-env.sh
    sets) first, as pulumi programs run on a plain python; else the
    host's ``outrun python``."""
    probe = ("import importlib.metadata as m, pulumi; "
             "print(m.version('pulumi'))")
    candidates = []
    venv = os.environ.get("VIRTUAL_ENV")
    if venv and os.access(os.path.join(venv, "bin", "python"), os.X_OK):
        candidates.append([os.path.join(venv, "bin", "python")])
    candidates.append([host, "python"])
    why = ""
    for python in candidates:
        try:
            proc = subprocess.run([*python, "-c", probe],
                                  stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True,
                                  timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = f"{type(exc).__name__}: {exc}"
            continue
        if proc.returncode == 0:
            return python, f"pulumi {proc.stdout.strip()} (mocks)"
        lines = proc.stderr.strip().splitlines()
        why = lines[-1] if lines else f"exit {proc.returncode}"
    return None, why


@dataclass
class PeerSide:
    python: list[str]
    workdir: str
    script: str = ""
    samples: int = 0

    def __post_init__(self) -> None:
        self.script = os.path.join(self.workdir, "peer_program.py")
        with open(self.script, "w", encoding="utf-8") as f:
            f.write(PEER_PROGRAM)

    def sample(self, program: str, n: int) -> RunResult:
        """One fresh process running the program at n under the mocks."""
        self.samples += 1
        cwd = os.path.join(self.workdir, f"peer-{self.samples}")
        os.makedirs(cwd)
        limit = PEER_RECURSION_LIMIT if program == "chained" else 0
        argv = [*self.python, self.script, str(n), program, str(limit)]
        what = f"pulumi's {program} program at {n:,}"
        try:
            child = run_child(argv, cwd, dict(os.environ), PEER_TIMEOUT)
        except TimeoutError:
            raise PeerTimeout(what) from None
        finally:
            shutil.rmtree(cwd, ignore_errors=True)
        doc = _last_json(child, what)
        if doc.get("created") != n:
            raise RuntimeError(f"{what} registered {doc.get('created')!r} "
                               f"resources, not {n}")
        return RunResult(program_wall=float(doc["program_wall"]),
                         process_wall=child.wall, peak_rss=child.peak_rss,
                         recursion_limit=int(doc["recursion_limit"]))


# ---------------------------------------------------------------------------
# Rows

@dataclass
class Measured:
    """Every sample of one program at one size, both sides."""

    program: str
    n: int
    nominal: int
    outrun: list[dict[str, RunResult]] = field(default_factory=list)
    peer: list[RunResult] = field(default_factory=list)
    peer_absent: str = ""


def _sizes(scale: float) -> list[tuple[int, int]]:
    """(n, nominal size) for each size, n scaled, each n once."""
    seen: dict[int, int] = {}
    for size in SIZES:
        seen.setdefault(max(1, round(size * scale)), size)
    return sorted(seen.items())


def _runs_at(n: int, runs: int) -> tuple[int, int]:
    """(runs, warm-up rounds) at size n."""
    if n <= SMALL_N:
        return runs, 1
    if n < HUGE_N:
        return min(runs, LARGE_RUNS), 0
    return 1, 0


def _measure(ours: OutrunSide, peer: PeerSide | None, program: str, n: int,
             nominal: int, runs: int, peer_absent: str) -> Measured:
    m = Measured(program, n, nominal, peer_absent=peer_absent)
    r, warmup = _runs_at(n, runs)
    outrun_results: list[dict[str, RunResult]] = []
    peer_results: list[RunResult] = []

    def on_outrun() -> float:
        outrun_results.append(ours.sample(program, n))
        return outrun_results[-1]["up"].program_wall

    def on_peer() -> float:
        if m.peer_absent:
            return 0.0
        try:
            peer_results.append(peer.sample(program, n))  # type: ignore
        except PeerTimeout:
            m.peer_absent = f"not run (took > {PEER_TIMEOUT:.0f} s)"
            print(f"outrun bench: engine: pulumi's {program} program at "
                  f"{n:,} took more than {PEER_TIMEOUT:.0f} s; left out",
                  file=sys.stderr)
            return 0.0
        return peer_results[-1].program_wall

    sides: list[Callable[[], float]] = [on_outrun]
    if peer is not None and not m.peer_absent:
        sides.insert(0, on_peer)
    rotate(sides, r, warmup)
    # The warm-up rounds' samples are the first ones: thrown away.
    m.outrun = outrun_results[-r:]
    if not m.peer_absent:
        m.peer = peer_results[-r:]
    return m


def _baseline(ours: OutrunSide, peer: PeerSide | None,
              runs: int) -> tuple[float, float | None]:
    """The median peak RSS of each side's program at N = 0: Outrun's up,
    the peer's mocked run."""
    outrun_rss: list[float] = []
    peer_rss: list[float] = []

    def on_outrun() -> float:
        outrun_rss.append(ours.sample("independent", 0)["up"].peak_rss)
        return 0.0

    def on_peer() -> float:
        peer_rss.append(peer.sample("independent", 0).peak_rss)  # type: ignore
        return 0.0

    rotate([on_peer, on_outrun] if peer else [on_outrun], runs, warmup=0)
    return median(outrun_rss), median(peer_rss) if peer else None


def _rows(m: Measured, peer_name: str, base_outrun: float,
          base_peer: float | None) -> list[Row]:
    has_peer = bool(m.peer)
    absent = m.peer_absent or ("" if has_peer else "not installed")
    label = f"{m.program} x{m.n:,}"
    runs = len(m.outrun)
    rows = []

    def row(what: str, outrun: list[float], peer: list[float],
            unit: str = "s", **fields: Any) -> None:
        rows.append(Row(
            scenario=f"{label}: {what}", peer=peer_name,
            peer_value=median(peer) if has_peer else None,
            outrun_value=median(outrun), unit=unit, runs=runs,
            peer_samples=peer if has_peer else [], outrun_samples=outrun,
            peer_absent="" if has_peer else absent, **fields))

    peer_program = [p.program_wall for p in m.peer]
    goal = RATIO_GOAL if RATIO_GOAL_AT[m.program] == m.n else None
    row("up from empty", [s["up"].program_wall for s in m.outrun],
        peer_program, goal=goal)
    row("up from empty, process", [s["up"].process_wall for s in m.outrun],
        [p.process_wall for p in m.peer])
    row("no-op up", [s["no-op up"].program_wall for s in m.outrun],
        peer_program)
    row("preview", [s["preview"].program_wall for s in m.outrun],
        peer_program)

    def per_resource(rss: float, base: float | None) -> float:
        return max(0.0, rss - (base or 0.0)) / m.n / 1024

    row("peak RSS per resource, up from empty",
        [per_resource(s["up"].peak_rss, base_outrun) for s in m.outrun],
        [per_resource(p.peak_rss, base_peer) for p in m.peer],
        unit="KiB", per="resource",
        goal=MEMORY_GOAL if m.n >= MEMORY_GOAL_FROM else None)
    return rows


def _growth_row(program: str, small: Measured, large: Measured) -> Row:
    """Outrun's cost per resource of an up from empty at the largest size
    beside at 1,000 (both scaled): the peer column is Outrun itself at
    the smaller size.  The goal only where they are 1,000 and 100,000."""
    before = [s["up"].program_wall / small.n for s in small.outrun]
    after = [s["up"].program_wall / large.n for s in large.outrun]
    return Row(
        scenario=(f"{program}: up from empty per resource, "
                  f"x{large.n:,} beside x{small.n:,}"),
        peer=f"outrun at x{small.n:,}", peer_value=median(before),
        outrun_value=median(after), unit="s",
        goal=GROWTH_GOAL if (small.n, large.n) == (GROWTH_FROM, GROWTH_TO)
        else None,
        runs=len(after), peer_samples=before, outrun_samples=after,
        per="resource")


def _recursion_row(measured: list[Measured], peer_name: str) -> Row:
    """The recursion limit each side's programs ran under, at every size;
    the goal is CPython's default on Outrun's side."""
    ours = [float(s[op].recursion_limit)
            for m in measured for s in m.outrun for op in ("up", "no-op up")]
    peers = [float(p.recursion_limit)
             for m in measured if m.program == "chained" for p in m.peer]
    biggest = max(m.n for m in measured)
    return Row(
        scenario=f"recursion limit the programs ran under, up to x{biggest:,}",
        peer=peer_name, peer_value=max(peers) if peers else None,
        outrun_value=max(ours), unit="frames", runs=len(ours),
        peer_samples=peers, outrun_samples=ours,
        max_value=float(DEFAULT_RECURSION_LIMIT),
        peer_absent="" if peers else (
            "not installed" if not any(m.peer for m in measured)
            and all(m.peer_absent == "not installed" for m in measured)
            else "no chained run"),
        note=(f"the peer's chained programs run with "
              f"sys.setrecursionlimit({PEER_RECURSION_LIMIT:,}): under the "
              f"default of {DEFAULT_RECURSION_LIMIT:,}, pulumi fails with "
              "RecursionError at about 970 chained resources; Outrun's "
              "programs export sys.getrecursionlimit() and never change "
              "it."))


def run(host: str, runs: int, scale: float = 1.0) -> list[Row]:
    """Measures the scenario; returns its rows."""
    python, peer_name = find_peer(host)
    if python is None:
        print(f"outrun bench: engine: pulumi is not importable "
              f"({peer_name}); showing Outrun alone (scripts/bench-env.sh "
              "makes an environment with it)", file=sys.stderr)
        peer_name = "pulumi"
    env = dict(os.environ, OUTRUN_CONFIG_PASSPHRASE=PASSPHRASE)
    sizes = _sizes(scale)
    with tempfile.TemporaryDirectory(prefix="outrun-bench-engine-") as tmp:
        ours = OutrunSide(host, tmp, env)
        peer = PeerSide(python, tmp) if python else None
        base_outrun, base_peer = _baseline(ours, peer, runs)
        measured: list[Measured] = []
        for program in PROGRAMS:
            absent = ""
            for n, nominal in sizes:
                if peer is None:
                    absent = "not installed"
                elif not absent and n > PEER_MAX_N[program]:
                    absent = f"not run (takes > {PEER_BUDGET:.0f} s)"
                m = _measure(ours, peer, program, n, nominal, runs, absent)
                measured.append(m)
                absent = m.peer_absent
                if m.peer and median([p.program_wall
                                      for p in m.peer]) > PEER_BUDGET:
                    absent = f"not run (takes > {PEER_BUDGET:.0f} s)"
    rows: list[Row] = []
    for m in measured:
        rows.extend(_rows(m, peer_name, base_outrun, base_peer))
    for program in PROGRAMS:
        by_size = {m.nominal: m for m in measured if m.program == program}
        small, large = by_size.get(GROWTH_FROM), by_size.get(GROWTH_TO)
        if small and large and large.n > small.n:
            rows.append(_growth_row(program, small, large))
    rows.append(_recursion_row(measured, peer_name))
    rows[0].note = (
        "program wall: Outrun's is the summary's duration (program start "
        "to end, the engine's clock), the peer's the "
        "@pulumi.runtime.test call timed inside its process; the ratio "
        "goals are on it. 'process' adds interpreter start and imports on "
        "both sides. The peer's one mocked run is the peer of up, no-op "
        "up and preview alike (its SDK does the same work for each). "
        "Memory: (peak RSS - peak RSS of the same side at N = 0) / N; "
        f"N = 0: outrun {base_outrun / 2**20:.1f} MiB"
        + (f", peer {base_peer / 2**20:.1f} MiB" if base_peer else "")
        + f". Medians of {runs} runs up to x{SMALL_N:,} (after a warm-up "
        f"round), at most {LARGE_RUNS} above, 1 at x{HUGE_N:,}.")
    return rows
