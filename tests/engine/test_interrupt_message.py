"""A first Ctrl-C while provider steps run (issue 11, item 7): the run
waits for them so that their results are saved, and says so at once,
naming each step and the provider method it runs, and that a second
Ctrl-C stops now; before, it waited silently until the slowest step
ended."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading

import pytest
from conftest import DEADLINE, Project

# Each create blocks until the test creates WORLD_DIR/release: no timing.
PROGRAM = """
import os
import time

from outrun.dynamic import CreateResult, Resource, ResourceProvider


class Gated(ResourceProvider):
    def create(self, props):
        world = os.environ["WORLD_DIR"]
        open(os.path.join(world, "started-" + props["name"]), "w").close()
        while not os.path.exists(os.path.join(world, "release")):
            time.sleep(0.01)
        return CreateResult("id-" + props["name"], dict(props))


class Gate(Resource):
    def __init__(self, name):
        super().__init__(Gated(), name, {"name": name})


Gate("alpha")
Gate("beta")
"""


def _lines(stream: object) -> queue.Queue[str | None]:
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_first_ctrl_c_says_what_it_waits_for(project: Project) -> None:
    project.write(PROGRAM)
    proc = subprocess.Popen(
        project.argv("up"), cwd=project.dir, env=project.env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(  # noqa: PLW1509
            signal.SIGINT, signal.SIG_DFL))
    project.started.append(proc)
    both = lambda: all((project.world / f"started-{n}").exists()  # noqa: E731
                       for n in ("alpha", "beta"))
    project.wait_for(both, proc, "both creates running")
    proc.send_signal(signal.SIGINT)

    assert proc.stderr is not None
    lines = _lines(proc.stderr)
    said: list[str] = []
    while not said or not said[-1].startswith("Press Ctrl-C again"):
        try:
            line = lines.get(timeout=DEADLINE)
        except queue.Empty:
            pytest.fail(f"nothing said within {DEADLINE} s of Ctrl-C while "
                        f"the steps ran; stderr so far {said!r}")
        if line is None:
            pytest.fail(f"stderr ended without the message: {said!r}")
        said.append(line)
    # Said while the steps still ran: they wait for the release file.
    assert proc.poll() is None
    text = "\n".join(said)
    assert "waiting for the 2 steps in flight" in text, text
    for name in ("alpha", "beta"):
        assert f"create of '{name}' (Gate): Gated.create()" in text, text
    assert "stop now" in text, text

    (project.world / "release").touch()
    code, _, _ = project.finish(proc)
    assert code == 130
    # The steps it waited for were saved.
    stacks = json.loads(project.ok("stack ls", "--json").stdout)
    assert stacks[0]["resources"] == 2, stacks
