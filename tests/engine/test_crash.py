"""Runs that die (kill -9) and runs that overlap: the next run finishes
the work, creates nothing twice beyond what was in flight, and says so;
a second run on a locked stack stops at once."""

from __future__ import annotations

import json
import signal

from conftest import Project, explain, ops_of


def _in_flight(project: Project) -> set[str]:
    """The Things whose create started and has not ended."""
    ops = project.ops()
    started = {o["name"] for o in ops if o["op"] == "start"}
    return started - {o["name"] for o in ops if o["op"] != "start"}


def test_up_after_kill_9_finishes_the_work(project: Project) -> None:
    n, parallel = 200, 8
    names = {f"t{i:03d}" for i in range(n)}
    # Every tenth Thing is slow, so that the kill can wait for one to be
    # surely inside its create (recorded as started in the state).
    slow = {f"t{i:03d}" for i in range(5, n, 10)}
    project.write("""
        from worldprov import Thing

        for i in range(200):
            Thing(f"t{i:03d}", i, sleep=0.5 if i % 10 == 5 else 0.02)
    """)
    first = project.start("up", "--parallel", str(parallel))
    project.wait_for(
        lambda: len(ops_of(project.ops_done(), "create")) >= 40
        and bool(_in_flight(project) & slow), first,
        "40 creates in ops.log and a slow create under way")
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL
    interrupted = _in_flight(project)
    assert interrupted & slow, interrupted
    ls = project.ok("stack ls").stdout
    assert "never ended (its process died)" in ls, ls
    created_first = ops_of(project.ops_done(), "create")
    assert len(created_first) < n, "the first run finished before the kill"
    project.clear_ops()

    events, _ = project.events("up", "--parallel", str(parallel))
    s = events[-1]
    assert s["result"] == "succeeded", s
    assert s["counts"].get("create", 0) + s["counts"].get("same", 0) == n, s
    assert set(project.things()) == names
    again = ops_of(project.ops_done(), "create-again")
    assert len(again) == len(set(again)) <= parallel, again
    # Operations were in flight at the kill: the second run names them.
    assert all("being created" in w for w in s["warnings"]), s["warnings"]
    warnings = "\n".join(s["warnings"])
    for name in set(again) | (interrupted & slow):
        assert f"::{name} " in warnings, (name, s["warnings"])
    # Everything the first run created and recorded stays as it is.
    created_second = set(ops_of(project.ops_done(), "create")) | set(again)
    assert created_second | set(created_first) == names
    assert not set(ops_of(project.ops_done(), "create")) & set(created_first)

    project.clear_ops()
    s = project.summary("up", "--parallel", str(parallel))
    assert s["counts"] == {"same": n}, s
    assert s["warnings"] == [], s
    assert project.ops() == []
    ls = json.loads(project.ok("stack ls", "--json").stdout)
    assert ls[0]["resources"] == n, ls


SLOW = """
    from worldprov import Thing

    Thing("fast", 1)
    Thing("slow", 1, sleep={sleep})
"""


def _started(project: Project, name: str) -> bool:
    return any(o["op"] == "start" and o["name"] == name
               for o in project.ops())


def test_second_up_on_a_locked_stack_fails_at_once(project: Project) -> None:
    project.write(SLOW.format(sleep=3))
    first = project.start("up")
    project.wait_for(lambda: _started(project, "slow"), first,
                     "the slow create's start")
    second = project.run("up")
    assert second.returncode != 0, explain(second)
    assert f"pid {first.pid}" in second.stderr, explain(second)
    assert "locked" in second.stderr, explain(second)
    assert first.poll() is None, "the slow create was over too soon"
    code, out, err = project.finish(first)
    assert code == 0, (out, err)
    # The second run did nothing: one create each.
    assert sorted(ops_of(project.ops_done(), "create")) == ["fast", "slow"]
    assert project.things() == {"fast": 1, "slow": 1}


def test_lock_of_a_killed_run_is_cleared(project: Project) -> None:
    project.write(SLOW.format(sleep=30))
    first = project.start("up")
    project.wait_for(lambda: _started(project, "slow"), first,
                     "the slow create's start")
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    project.write(SLOW.format(sleep=0))
    proc = project.ok("up")
    assert "stale lock" in proc.stderr, explain(proc)
    assert f"pid {first.pid}" in proc.stderr, explain(proc)
    assert project.things() == {"fast": 1, "slow": 1}
    # The interrupted create is named in the warnings.
    assert "::slow was being created" in proc.stdout, explain(proc)
    proc = project.ok("up")
    assert "stale lock" not in proc.stderr, explain(proc)


def test_preview_beside_a_running_up_says_it_is_running(
        project: Project) -> None:
    project.write(SLOW.format(sleep=3))
    first = project.start("up")
    project.wait_for(lambda: _started(project, "slow"), first,
                     "the slow create's start")
    events, _ = project.events("preview")
    assert first.poll() is None, "the slow create was over too soon"
    s = events[-1]
    # Not the leftover of a run that died: no such warning.
    assert s["warnings"] == [], s
    infos = [e["message"] for e in events
             if e["event"] == "diag" and e["level"] == "info"]
    assert any("::slow is being created by `outrun up` (pid "
               f"{first.pid}" in m for m in infos), events
    ls = project.ok("stack ls").stdout
    assert "up running since " in ls, ls
    assert json.loads(project.ok("stack ls", "--json").stdout)[0][
        "last_result"] == "running"
    code, out, err = project.finish(first)
    assert code == 0, (out, err)
    # Once the up is over, nothing is in flight.
    s = project.summary("preview")
    assert s["warnings"] == [] and s["counts"] == {"same": 2}, s
