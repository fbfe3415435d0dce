"""What every benchmark shares: timing, medians, the table and JSON.

Every scenario measures Outrun beside its peer in the same run, alternating
between them, and reports the ratio, because these machines are shared and
noisy: only a ratio measured side by side means anything.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
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
        return d


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
    for _ in range(warmup):
        peer()
        outrun()
    peer_samples: list[float] = []
    outrun_samples: list[float] = []
    for i in range(runs):
        # Swap who goes first each round so neither always runs on a
        # warmer cache.
        if i % 2 == 0:
            peer_samples.append(peer())
            outrun_samples.append(outrun())
        else:
            outrun_samples.append(outrun())
            peer_samples.append(peer())
    return peer_samples, outrun_samples


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
