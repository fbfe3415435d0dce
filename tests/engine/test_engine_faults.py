"""Faults the engine turns into one step's (or one output's) failure with
the normal summary, and --debug-pending under up, preview and destroy."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import Project, explain

EXITING = """
    import sys
    from outrun.dynamic import CreateResult, Resource, ResourceProvider
    from worldprov import Thing

    class Exiting(ResourceProvider):
        def create(self, props):
            if props["how"] == "exit":
                sys.exit(3)
            raise KeyboardInterrupt

    class AsyncExiting(ResourceProvider):
        async def create(self, props):
            if props["how"] == "exit":
                raise SystemExit(4)
            raise KeyboardInterrupt

    class InlineExiting(ResourceProvider):
        blocking = False

        def create(self, props):
            raise SystemExit(5)

    class R(Resource):
        def __init__(self, name, how, provider):
            super().__init__(provider(), name, {"how": how}, None)

    R("exits", "exit", Exiting)
    R("interrupts", "kbi", Exiting)
    R("async-exits", "exit", AsyncExiting)
    R("async-interrupts", "kbi", AsyncExiting)
    R("inline-exits", "exit", InlineExiting)
    Thing("fine", 1)
"""


def test_provider_exit_fails_only_its_step(project: Project) -> None:
    project.write(EXITING)
    summary = project.summary("up", expect=1)
    assert summary["result"] == "failed", summary
    failed = {f["urn"].rsplit("::", 1)[1]: f["message"]
              for f in summary["failures"]}
    assert failed.keys() == {"exits", "interrupts", "async-exits",
                             "async-interrupts", "inline-exits"}, summary
    assert "Exiting.create() raised SystemExit(3)" in failed["exits"]
    assert "raised KeyboardInterrupt" in failed["interrupts"]
    assert "AsyncExiting.create() raised SystemExit(4)" \
        in failed["async-exits"]
    assert "raised KeyboardInterrupt" in failed["async-interrupts"]
    assert "InlineExiting.create() raised SystemExit(5)" \
        in failed["inline-exits"]
    assert summary["counts"].get("create") == 1, summary
    assert project.things() == {"fine": 1}
    proc = project.run("up")
    assert proc.returncode == 1, explain(proc)
    assert "Update failed" in proc.stdout, explain(proc)
    assert "interrupted" not in proc.stdout + proc.stderr, explain(proc)


UNSAVABLE = """
    import outrun
    from worldprov import Thing

    deep = []
    for _ in range({depth}):
        deep = [deep]
    t = Thing("t", 1)
    outrun.export("big", 10 ** 5000)
    outrun.export("surrogate", "a\\ud800b")
    outrun.export("deep", deep)
    outrun.export("ok", t.value)
"""


@pytest.mark.parametrize("depth", [3000, 100_000])
def test_outputs_that_cannot_be_saved_are_named(project: Project,
                                                depth: int) -> None:
    project.write(UNSAVABLE.format(depth=depth))
    summary = project.summary("up", expect=1)
    messages = {f["urn"]: f["message"] for f in summary["failures"]}
    assert set(messages) == {"output big", "output surrogate",
                             "output deep"}, summary
    assert "integer too long" in messages["output big"]
    assert "lone surrogate" in messages["output surrogate"]
    assert "nested too deeply" in messages["output deep"]
    assert summary["outputs"] == {"ok": 1}, summary
    proc = project.run("up")
    assert proc.returncode == 1, explain(proc)
    assert "Traceback" not in proc.stderr, explain(proc)
    assert "the stack output 'big' cannot be saved" in proc.stdout, \
        explain(proc)
    assert "Update failed" in proc.stdout, explain(proc)
    # What could be saved was.
    assert project.ok("stack output", "ok").stdout.strip() == "1"


# --debug-pending under the engine's commands -------------------------------

HANGING = """
    import os
    import time

    from outrun.dynamic import CreateResult, Resource, ResourceProvider


    class Hanging(ResourceProvider):
        def check(self, olds, news):
            self._hang("check")
            return super().check(olds, news)

        def create(self, props):
            self._hang("create")
            return CreateResult(props["name"], dict(props))

        def delete(self, id_, props):
            self._hang("delete")

        @staticmethod
        def _hang(method):
            if os.environ.get("HANG") == method:
                time.sleep(3600)


    class Held(Resource):
        def __init__(self, name):
            super().__init__(Hanging(), name, {"name": name}, None)
"""


def _start(project: Project, tmp_path: Path, hang: str,
           *args: str) -> tuple[subprocess.Popen[str], Path]:
    err = tmp_path / f"stderr-{hang}"
    proc = subprocess.Popen(
        project.argv(*args, "--debug-pending", "0.3"), cwd=project.dir,
        env={**project.env, "HANG": hang}, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=err.open("w"), text=True)
    project.started.append(proc)
    return proc, err


@pytest.mark.parametrize("command,hang", [("up", "create"),
                                          ("preview", "check"),
                                          ("destroy", "delete")])
def test_debug_pending_names_the_hung_provider_method(
        project: Project, tmp_path: Path, command: str, hang: str) -> None:
    (project.dir / "hanging.py").write_text(textwrap.dedent(HANGING))
    project.write("""
        from hanging import Held
        Held("stuck")
    """)
    if command == "destroy":
        project.ok("up")
    proc, err = _start(project, tmp_path, hang,
                       *([command, "--yes"] if command == "destroy"
                         else [command]))
    wanted = f"Hanging.{hang}() running for"
    project.wait_for(lambda: wanted in err.read_text(), proc,
                     f"a report naming {wanted!r}")
    report = err.read_text()
    assert "'stuck'" in report, report
    assert "1 step(s) in flight" in report, report
    proc.kill()
    proc.wait()
