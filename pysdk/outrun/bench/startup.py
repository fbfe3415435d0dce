"""Start-up: ``outrun run empty.py`` beside ``python3 empty.py``.

Both start the same interpreter with the same site-packages; the host adds
its own start-up, the SDK and the event loop.  Goal: within 1.3x.
"""

from __future__ import annotations

import os
import sys
import tempfile

from outrun.bench._harness import Row, alternate, median, time_command

GOAL = 1.3


def run(host: str, runs: int) -> list[Row]:
    """Measures the scenario; returns its one row."""
    with tempfile.TemporaryDirectory(prefix="outrun-bench-") as tmp:
        empty = os.path.join(tmp, "empty.py")
        with open(empty, "w", encoding="utf-8") as f:
            f.write("# An empty program: only start-up is measured.\n")
        env = dict(os.environ)
        # Neither side may write or read bytecode caches of empty.py in a
        # way the other cannot; both see the same environment.
        python = sys.executable
        peer, outrun = alternate(
            lambda: time_command([python, empty], env=env, cwd=tmp),
            lambda: time_command([host, "run", empty], env=env, cwd=tmp),
            runs=runs,
        )
    return [Row(
        scenario="startup",
        peer="python3",
        peer_value=median(peer),
        outrun_value=median(outrun),
        unit="s",
        goal=GOAL,
        runs=runs,
        peer_samples=peer,
        outrun_samples=outrun,
        note=f"median of {runs} runs each, alternating; "
             f"peer: {python} empty.py; outrun: {host} run empty.py",
    )]
