"""Start-up: ``outrun run empty.py`` beside ``python3 empty.py``.

Both start the same interpreter with the same site-packages.  The host adds
its own start-up, the SDK, and the event loop it owns, which means
importing asyncio.  A second row therefore sets the host beside the
closest python3 equivalent, an empty coroutine run by ``asyncio.run``, so
that the host's own overhead can be told apart from asyncio's.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile

from outrun.bench._harness import Row, alternate, median, time_command

GOAL = 1.3

EMPTY = "# An empty program: only start-up is measured.\n"
EMPTY_ON_A_LOOP = (
    "# The same empty program, run inside a coroutine on an asyncio loop.\n"
    "import asyncio\n"
    "async def main():\n"
    "    pass\n"
    "asyncio.run(main())\n"
)


def _write(folder: str, name: str, text: str) -> str:
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def run(host: str, runs: int, scale: float = 1.0) -> list[Row]:
    """Measures the scenario; returns its rows.  It has no size to scale."""
    python = sys.executable
    env = dict(os.environ)
    rows = []
    with tempfile.TemporaryDirectory(prefix="outrun-bench-") as tmp:
        empty = _write(tmp, "empty.py", EMPTY)
        on_loop = _write(tmp, "empty_on_loop.py", EMPTY_ON_A_LOOP)
        for scenario, peer_name, peer_file, goal in (
            ("startup", "python3 empty.py", empty, GOAL),
            ("startup (peer runs a loop)", "python3 + asyncio.run",
             on_loop, None),
        ):
            peer, outrun = alternate(
                functools.partial(time_command, [python, peer_file],
                                  env=env, cwd=tmp),
                lambda: time_command([host, "run", empty], env=env, cwd=tmp),
                runs=runs,
            )
            rows.append(Row(
                scenario=scenario,
                peer=peer_name,
                peer_value=median(peer),
                outrun_value=median(outrun),
                unit="s",
                goal=goal,
                runs=runs,
                peer_samples=peer,
                outrun_samples=outrun,
                note=f"median of {runs} runs each, alternating; outrun: "
                     f"{host} run empty.py",
            ))
    return rows
