"""protect, a failing provider beside independent branches, and the
--parallel bound."""

from __future__ import annotations

import json

from conftest import Project, explain, ops_of

PROTECTED = """
    import outrun
    from worldprov import Thing

    keep = Thing("keep", {value}, opts=outrun.ResourceOptions(
        protect={protect}, replace_on_changes=["value"]))
    Thing("other", 1)
"""


def _state_names(project: Project) -> list[str]:
    ls = json.loads(project.ok("stack ls", "--json").stdout)
    return [(s["name"], s["resources"]) for s in ls]


def test_protected_resource_is_not_deleted(project: Project) -> None:
    project.write(PROTECTED.format(value=1, protect=True))
    project.ok("up")
    project.clear_ops()
    project.write("""
        from worldprov import Thing
        Thing("other", 1)
    """)
    proc = project.run("up")
    assert proc.returncode == 1, explain(proc)
    assert "protected" in proc.stdout + proc.stderr, explain(proc)
    assert "keep" in proc.stdout + proc.stderr, explain(proc)
    assert project.things() == {"keep": 1, "other": 1}
    assert ops_of(project.ops_done(), "delete") == []
    assert _state_names(project) == [("dev", 2)]
    # Unprotect (the program declares it again with protect=False), then
    # remove it: both work.
    project.write(PROTECTED.format(value=1, protect=False))
    project.ok("up")
    project.write("""
        from worldprov import Thing
        Thing("other", 1)
    """)
    project.ok("up")
    assert project.things() == {"other": 1}
    assert _state_names(project) == [("dev", 1)]


def test_protected_resource_is_not_replaced(project: Project) -> None:
    project.write(PROTECTED.format(value=1, protect=True))
    project.ok("up")
    project.clear_ops()
    project.write(PROTECTED.format(value=2, protect=True))
    proc = project.run("up")
    assert proc.returncode == 1, explain(proc)
    assert "protected" in proc.stdout + proc.stderr, explain(proc)
    assert project.ops_done() == []
    assert project.things() == {"keep": 1, "other": 1}
    out = project.run("stack ls", "--json")
    assert json.loads(out.stdout)[0]["resources"] == 2
    # Unprotect with the old value, then change it: the replacement runs.
    project.write(PROTECTED.format(value=1, protect=False))
    project.ok("up")
    project.write(PROTECTED.format(value=2, protect=False))
    s = project.summary("up")
    assert s["counts"].get("replace") == 1, s
    assert project.things() == {"keep": 2, "other": 1}


BRANCHES = """
    from worldprov import Thing

    a = Thing("a", 1, fail={fail!r})
    b = Thing("b", a.path)
    c = Thing("c", 3)
"""


def test_failure_skips_dependents_and_spares_independent_branches(
        project: Project) -> None:
    project.write(BRANCHES.format(fail="the disk is on fire"))
    events, proc = project.events("up", expect=1)
    s = events[-1]
    assert s["result"] == "failed", s
    assert project.things() == {"c": 3}
    # b never started: only a and c reached the provider.
    assert sorted(ops_of(project.ops(), "start")) == ["a", "c"], \
        project.ops()
    assert ops_of(project.ops_done(), "create") == ["c"]
    failures = s["failures"]
    assert len(failures) == 1, s
    assert failures[0]["urn"].endswith("::a"), s
    assert "the disk is on fire" in failures[0]["message"], s
    assert s["skipped"] == 1, s
    assert [e["name"] for e in events if e["event"] == "skipped"] == ["b"]
    # The plain summary names A and the reason too.
    project.clear_ops()
    proc = project.run("up")
    assert proc.returncode == 1, explain(proc)
    failures_part = proc.stdout.split("Failures:", 1)[-1]
    assert "::a" in failures_part and "the disk is on fire" in \
        failures_part, explain(proc)
    # Fixed: a and b are created, c stays.
    project.clear_ops()
    project.write(BRANCHES.format(fail=None))
    s = project.summary("up")
    assert s["counts"] == {"create": 2, "same": 1}, s
    assert sorted(ops_of(project.ops_done(), "create")) == ["a", "b"]
    assert project.things() == {"a": 1, "b": str(project.world / "a"),
                                "c": 3}


MANY = """
    from worldprov import Thing

    for i in range({n}):
        Thing(f"t{{i:03d}}", i, sleep={sleep})
"""


def _max_in_flight(project: Project) -> int:
    return max(o["in_flight"] for o in project.ops_done())


def test_parallel_bounds_operations_in_flight(project: Project) -> None:
    project.write(MANY.format(n=30, sleep=0.05))
    project.ok("up", "--parallel", "4")
    assert len(ops_of(project.ops_done(), "create")) == 30
    assert _max_in_flight(project) == 4


def test_parallel_one_runs_one_at_a_time(project: Project) -> None:
    project.write(MANY.format(n=10, sleep=0.02))
    project.ok("up", "--parallel", "1")
    assert len(ops_of(project.ops_done(), "create")) == 10
    assert _max_in_flight(project) == 1
    # Deletes are bounded too.
    project.clear_ops()
    project.ok("destroy", "--parallel", "1")
    assert len(ops_of(project.ops_done(), "delete")) == 10
    assert _max_in_flight(project) == 1


def test_threads_bounds_blocking_providers_below_parallel(
        project: Project) -> None:
    # --parallel lets 8 operations start; a pool of 2 threads runs only 2
    # of the blocking creates at a time.
    project.write(MANY.format(n=12, sleep=0.05))
    project.ok("up", "--parallel", "8", "--threads", "2")
    assert len(ops_of(project.ops_done(), "create")) == 12
    assert _max_in_flight(project) == 2


UNSAVABLE = """
    from outrun import dynamic
    from setprov import Plain, SetOutput, SetOutputInline

    bad = dynamic.Resource(SetOutput(), "bad", {"v": 1})
    dynamic.Resource(Plain(), "after-bad", {"x": bad.v})
    dynamic.Resource(Plain(), "apart", {"v": 2})
    dynamic.Resource(SetOutputInline(), "bad-inline", {"v": 3})
"""

SETPROV = """
from outrun import dynamic


class SetOutput(dynamic.ResourceProvider):
    def create(self, props):
        return dynamic.CreateResult("s", {**props, "tags": {1, 2}})


class SetOutputInline(SetOutput):
    blocking = False


class Plain(dynamic.ResourceProvider):
    def create(self, props):
        return dynamic.CreateResult("p", dict(props))
"""


def test_outputs_that_cannot_be_saved_fail_the_step(project: Project) -> None:
    # A provider whose outputs are not JSON values: its step fails (the
    # run does not hang), what depends on it is skipped, the rest is done.
    (project.dir / "setprov.py").write_text(SETPROV)
    project.write(UNSAVABLE)
    s = project.summary("up", expect=1)
    assert s["result"] == "failed", s
    assert s["counts"] == {"create": 1, "failed": 2}, s
    failed = sorted(f["urn"].rsplit("::", 1)[1] for f in s["failures"])
    assert failed == ["bad", "bad-inline"], s
    assert all("must be JSON values" in f["message"] for f in s["failures"])
    assert s["skipped"] == 1, s
    # The blocking create did happen: the next run says it may exist.
    s = project.summary("up", expect=1)
    assert any("::bad was being created" in w for w in s["warnings"]), s


SLOWPROV = """
import asyncio

from outrun import dynamic


class Slow(dynamic.ResourceProvider):
    async def create(self, props):
        await asyncio.sleep(props["sleep"])
        return dynamic.CreateResult("slow", dict(props))
"""


def test_custom_timeout_fails_an_async_create_with_a_message(
        project: Project) -> None:
    (project.dir / "slowprov.py").write_text(SLOWPROV)
    project.write("""
        import outrun
        from outrun import dynamic
        from slowprov import Slow

        dynamic.Resource(Slow(), "late", {"sleep": 30}, outrun.ResourceOptions(
            custom_timeouts=outrun.CustomTimeouts(create="0.2s")))
        dynamic.Resource(Slow(), "quick", {"sleep": 0})
    """)
    s = project.summary("up", expect=1)
    assert s["counts"] == {"create": 1, "failed": 1}, s
    (failure,) = s["failures"]
    assert failure["urn"].endswith("::late"), s
    assert "TimeoutError: create took longer than its custom timeout " \
        "(create='0.2s')" in failure["message"], s
