"""``outrun bench``: Outrun beside the peers a user would otherwise pick.

Each scenario runs Outrun and its peer in the same process run, alternating
between them, and prints peer, Outrun and the ratio in one table.
``--json FILE`` writes the same rows with every sample.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

from outrun.bench import engine, ffi, offload, output, process, startup
from outrun.bench._harness import Row, print_table, write_json

# name -> (what it measures, function(host, runs, scale) -> rows,
#          default runs)
SCENARIOS: dict[
    str, tuple[str, Callable[[str, int, float], list[Row]], int]] = {
    "startup": ("outrun run empty.py beside python3 empty.py",
                startup.run, 21),
    "output": (("outrun.Output beside pulumi's Output under its mocks "
                "(applies, all, concat, format, from_input, bytes per "
                "Output)"), output.run, 7),
    "offload": (("outrun.to_thread and outrun.offload beside "
                 "asyncio.to_thread and run_in_executor (round trip, "
                 "10,000 gathered, blocking sleeps)"), offload.run, 7),
    "process": (("outrun.process.run beside create_subprocess_exec and "
                 "subprocess.run in to_thread (1,000 x true)"),
                process.run, 5),
    "ffi": (("outrun.ffi beside ctypes on the loop thread and in "
             "asyncio.to_thread (trivial call sync, one at a time and "
             "10,000 gathered; 1,000 x a 10 ms blocking call)"),
            ffi.run, 7),
    "engine": (("outrun up, no-op up and preview beside pulumi's SDK under "
                "its mocks, programs of N RandomString resources, chained "
                "and independent (N = 100 to 100,000; wall time, peak "
                "memory)"), engine.run, 3),
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="outrun bench",
        description="Benchmarks Outrun beside its peers, side by side in one "
                    "run, and prints peer, Outrun and the ratio (outrun/peer; "
                    "below 1 is better for Outrun).",
        epilog="scenarios: " + "; ".join(
            f"{k}: {v[0]}" for k, v in SCENARIOS.items()),
    )
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                   help="what to measure (default: all): "
                        + ", ".join(SCENARIOS))
    p.add_argument("--runs", type=int, default=None, metavar="N",
                   help="measurements per side (default: per scenario)")
    p.add_argument("--scale", type=float, default=1.0, metavar="F",
                   help="multiply the sizes of sized scenarios (output, "
                        "offload, process, ffi, engine) "
                        "by F, e.g. 0.01 for a quick check (default: 1)")
    p.add_argument("--json", metavar="FILE", dest="json_file",
                   help="also write the results as JSON to FILE")
    p.add_argument("--host", metavar="PATH",
                   help="the outrun executable to measure (default: this "
                        "one, or 'outrun' on PATH)")
    return p


def main(argv: list[str], host_executable: str | None = None) -> int:
    """Runs the benchmarks named in argv; returns the exit code."""
    args = _parser().parse_args(argv)
    names = args.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"outrun bench: error: unknown scenario '{unknown[0]}'; "
              f"choose from {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    if args.runs is not None and args.runs < 1:
        print("outrun bench: error: --runs takes a number of 1 or more",
              file=sys.stderr)
        return 2
    if not args.scale > 0:
        print("outrun bench: error: --scale takes a number above 0",
              file=sys.stderr)
        return 2
    host = args.host or host_executable or shutil.which("outrun")
    if host is None or not os.access(host, os.X_OK):
        print("outrun bench: error: cannot find the outrun executable; "
              "pass --host PATH", file=sys.stderr)
        return 2

    rows: list[Row] = []
    for name in names:
        _, fn, default_runs = SCENARIOS[name]
        try:
            rows.extend(fn(host, args.runs or default_runs, args.scale))
        except RuntimeError as exc:
            # A command under measurement failed: say which, not how fast.
            print(f"outrun bench: error: {name}: {exc}", file=sys.stderr)
            return 1
    print_table(rows)
    if args.json_file:
        meta: dict[str, Any] = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "host": host,
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "ratio": "outrun / peer; below 1 is better for Outrun",
            "scale": args.scale,
        }
        write_json(args.json_file, rows, meta)
        print(f"wrote {args.json_file}")
    return 0
