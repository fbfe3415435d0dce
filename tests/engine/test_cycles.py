"""Dependency cycles between resources (through inputs, depends_on, a
resource waiting on itself through deferred_output) fail the resources in
the cycle, naming them, instead of hanging; slow providers, offloads and
late deferred Outputs are not cycles."""

from __future__ import annotations

import pytest

from conftest import Project, explain

# Each run gets this deadline: a cycle that is not found hangs the run,
# and the test fails instead of the suite stalling.
HANG = 60.0

SELF = """
    import outrun
    from worldprov import Thing

    d, set_d = outrun.deferred_output()
    a = Thing("a", d)
    set_d(a.value)
    Thing("free", 1)
"""

THROUGH_DEPENDS_ON = """
    import outrun
    from outrun import ResourceOptions
    from worldprov import Thing

    d, set_d = outrun.deferred_output()
    a = Thing("a", 1, opts=ResourceOptions(depends_on=[d]))
    b = Thing("b", 2, opts=ResourceOptions(depends_on=[a]))
    c = Thing("c", b.value.apply(lambda v: v + 1))
    set_d(c)
    Thing("down", a.value)
    Thing("free", 5)
"""


def _failed(summary: dict) -> dict[str, str]:
    return {f["urn"].rsplit("::", 1)[1]: f["message"]
            for f in summary["failures"] if f["urn"] != "program"}


@pytest.mark.parametrize("command", ["up", "preview"])
def test_resource_waiting_on_itself_fails(project: Project,
                                          command: str) -> None:
    project.write(SELF)
    summary = project.summary(command, expect=1, timeout=HANG)
    failed = _failed(summary)
    assert list(failed) == ["a"], summary
    assert "dependency cycle" in failed["a"], failed
    assert "'a' (Thing) waits on itself through its input 'value'" \
        in failed["a"], failed
    assert summary["result"] == "failed"
    if command == "up":
        assert summary["counts"].get("create") == 1, summary
        assert project.things() == {"free": 1}


def test_cycle_through_depends_on_names_every_resource(
        project: Project) -> None:
    project.write(THROUGH_DEPENDS_ON)
    proc = project.run("up", timeout=HANG)
    assert proc.returncode == 1, explain(proc)
    for line in ("'a' (Thing) waits on 'c' (Thing) through depends_on",
                 "'c' (Thing) waits on 'b' (Thing) through its input "
                 "'value'",
                 "'b' (Thing) waits on 'a' (Thing) through depends_on"):
        assert line in proc.stdout, explain(proc)
    # The plain summary ends the run as usual; what depends on the cycle
    # is skipped, the rest is created.
    assert "3 failed" in proc.stdout, explain(proc)
    assert "Skipped: 1 step" in proc.stdout, explain(proc)
    assert "Update failed" in proc.stdout, explain(proc)
    assert project.things() == {"free": 5}
    summary = project.summary("up", expect=1, timeout=HANG)
    assert sorted(_failed(summary)) == ["a", "b", "c"], summary
    assert summary["skipped"] == 1, summary


NOT_A_CYCLE = """
    import asyncio
    import time

    import outrun
    from worldprov import Thing

    def slowly(v):
        time.sleep(1.5)
        return v

    slow = Thing("slow", 1, sleep=1.5)
    Thing("after-slow", slow.value)
    Thing("after-offload", outrun.offload(slowly, 2))

    # A deferred Output resolved late, by a timer: the engine is idle
    # meanwhile, and nothing is a cycle.
    d, set_d = outrun.deferred_output()
    Thing("after-deferred", d)

    async def later():
        await asyncio.sleep(1.5)
        set_d(3)

    outrun.track(later())
"""


def test_slow_work_is_not_a_cycle(project: Project) -> None:
    project.write(NOT_A_CYCLE)
    summary = project.summary("up", timeout=HANG)
    assert summary["result"] == "succeeded", summary
    assert project.things() == {"slow": 1, "after-slow": 1,
                                "after-offload": 2, "after-deferred": 3}
