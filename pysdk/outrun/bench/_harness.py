"""What every benchmark shares: timing, medians, the table and JSON.

Every scenario measures Outrun beside its peer in the same run, alternating
between them, and reports the ratio, because these machines are shared and
noisy: only a ratio measured side by side means anything.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    """One line of a benchmark's table: a peer and Outrun on one scenario.

    A peer that could not be measured (not installed, say) has no value:
    peer_value is None, peer_absent says why in its place, and the row has
    no ratio."""

    scenario: str
    peer: str
    peer_value: float | None
    outrun_value: float
    unit: str
    # "lower" when a smaller value is better (time, bytes).
    better: str = "lower"
    goal: float | None = None  # the most the ratio outrun/peer may be
    runs: int = 0
    peer_samples: list[float] = field(default_factory=list)
    outrun_samples: list[float] = field(default_factory=list)
    note: str = ""
    # What one value counts: "apply" prints 11.7 µs as "11.7 µs/apply".
    per: str = ""
    # An absolute goal, in unit: the most outrun_value may be, whatever
    # the peer does (bytes per Output, say).
    max_value: float | None = None
    # Why there is no peer value, e.g. "not installed".
    peer_absent: str = ""
    # The best value physically possible, in unit (N sleeps of L on T
    # threads: ceil(N / T) * L), for rows that report an efficiency.
    ideal: float | None = None

    @property
    def peer_efficiency(self) -> float | None:
        """ideal / peer_value: 1 is the ideal; None without an ideal."""
        if self.ideal is None or not self.peer_value:
            return None
        return self.ideal / self.peer_value

    @property
    def outrun_efficiency(self) -> float | None:
        """ideal / outrun_value: 1 is the ideal; None without an ideal."""
        if self.ideal is None or not self.outrun_value:
            return None
        return self.ideal / self.outrun_value

    @property
    def ratio(self) -> float | None:
        """outrun / peer: below 1 means Outrun is faster (or smaller);
        None without a peer value."""
        if self.peer_value is None:
            return None
        if self.peer_value == 0:
            return float("inf")
        return self.outrun_value / self.peer_value

    @property
    def meets_goal(self) -> bool | None:
        """Whether every goal the row sets is met; None when it sets none
        or its ratio goal cannot be judged for want of a peer."""
        met = []
        if self.goal is not None:
            ratio = self.ratio
            if ratio is None:
                return None
            met.append(ratio <= self.goal)
        if self.max_value is not None:
            met.append(self.outrun_value <= self.max_value)
        return all(met) if met else None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["meets_goal"] = self.meets_goal
        d["peer_efficiency"] = self.peer_efficiency
        d["outrun_efficiency"] = self.outrun_efficiency
        return d


def paired(scenario: str, peer: str, peer_samples: list[float],
           outrun_samples: list[float], unit: str = "s",
           **fields: Any) -> Row:
    """A row of the medians of both sides' samples (runs: how many)."""
    return Row(scenario=scenario, peer=peer,
               peer_value=median(peer_samples),
               outrun_value=median(outrun_samples), unit=unit,
               runs=len(outrun_samples), peer_samples=peer_samples,
               outrun_samples=outrun_samples, **fields)


def time_command(argv: Sequence[str], *, env: dict[str, str] | None = None,
                 cwd: str | None = None) -> float:
    """Runs argv once and returns its wall time in seconds.  A failing
    command fails the benchmark: a broken run must not look fast."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(
            f"benchmark command {list(argv)} exited with {proc.returncode}: "
            + proc.stderr.decode(errors="replace").strip()[-500:])
    return elapsed


def alternate(peer: Callable[[], float], outrun: Callable[[], float],
              runs: int, warmup: int = 1) -> tuple[list[float], list[float]]:
    """Measures peer and Outrun in turn, runs times each, after warmup
    rounds that are thrown away.  Alternating spreads the machine's noise
    evenly over both."""
    peer_samples, outrun_samples = rotate([peer, outrun], runs, warmup)
    return peer_samples, outrun_samples


def rotate(sides: Sequence[Callable[[], float]], runs: int,
           warmup: int = 1) -> list[list[float]]:
    """alternate() for any number of sides: each round measures every side
    once, runs rounds after warmup rounds that are thrown away; returns
    the samples of each side, in the order of sides."""
    for _ in range(warmup):
        for side in sides:
            side()
    samples: list[list[float]] = [[] for _ in sides]
    for i in range(runs):
        # Each round starts with the next side (with two, who goes first
        # swaps every round), so that none always runs on a warmer cache.
        for k in range(len(sides)):
            j = (i + k) % len(sides)
            samples[j].append(sides[j]())
    return samples


class KeptExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor that outlives the event loops it serves.

    ``loop.close()`` shuts its default executor down; an instance of this
    class ignores that, so that one executor (and its started threads)
    serves every fresh loop of a benchmark.  ``close()`` shuts it down."""

    def shutdown(self, wait: bool = True, *,
                 cancel_futures: bool = False) -> None:
        """Ignored: see close()."""

    def close(self) -> None:
        super().shutdown(wait=True)


def on_fresh_loop(main: Callable[[], Awaitable[float]],
                  default_executor: ThreadPoolExecutor | None = None
                  ) -> float:
    """Runs main() on a new event loop, closed afterwards, and returns what
    it returns.  The garbage of earlier samples is collected first, so that
    it is not collected inside this one."""
    gc.collect()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if default_executor is not None:
        loop.set_default_executor(default_executor)
    try:
        return loop.run_until_complete(main())
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def _fmt(value: float, unit: str, per: str = "") -> str:
    if unit == "s":
        if value < 1e-3:
            text = f"{value * 1e6:.3g} µs"
        elif value < 1:
            text = f"{value * 1e3:.1f} ms"
        else:
            text = f"{value:.2f} s"
    elif abs(value) >= 1000:
        text = f"{value:.0f} {unit}"
    else:
        text = f"{value:.3g} {unit}"
    return f"{text}/{per}" if per else text


def _fmt_ratio(ratio: float) -> str:
    # Two decimals, and two significant digits below 0.1, where the goals
    # of 1/20 and less live.
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def _goal(r: Row) -> str:
    parts = []
    if r.goal is not None:
        parts.append(f"<= {r.goal:.2f}x")
    if r.max_value is not None:
        parts.append(f"<= {_fmt(r.max_value, r.unit, r.per)} (absolute)")
    text = ", ".join(parts)
    if r.meets_goal is not None:
        text += " met" if r.meets_goal else " MISSED"
    elif r.goal is not None:
        text += " (no peer to judge)"
    return text


def print_table(rows: Sequence[Row], out: Any = None) -> None:
    """Prints the peer, Outrun and the ratio, one row per scenario."""
    out = out or sys.stdout
    header = ("scenario", "peer", "peer", "outrun", "outrun/peer", "goal")
    lines = [header]
    for r in rows:
        ratio = r.ratio
        lines.append((
            r.scenario, r.peer,
            r.peer_absent if r.peer_value is None
            else _fmt(r.peer_value, r.unit, r.per),
            _fmt(r.outrun_value, r.unit, r.per),
            "" if ratio is None else _fmt_ratio(ratio),
            _goal(r)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        out.write("  ".join(c.ljust(w) for c, w in zip(line, widths))
                  .rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")
    for r in rows:
        if r.note:
            out.write(f"note ({r.scenario}): {r.note}\n")


def write_json(path: str, rows: Sequence[Row], meta: dict[str, Any]) -> None:
    """Writes the rows and the conditions they were measured under."""
    doc = {
        "meta": meta,
        "rows": [r.to_json() for r in rows],
    }
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
