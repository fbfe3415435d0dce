"""SIGTERM and SIGHUP stop `outrun up` as the first Ctrl-C does: steps
already running finish and are committed, the lock is released, and the
exit code is 128 + the signal's number (issue 11, item 5)."""

from __future__ import annotations

import signal

import pytest
from conftest import Project, explain, ops_of


@pytest.mark.parametrize(("sig", "want"), [(signal.SIGTERM, 143),
                                           (signal.SIGHUP, 129)])
def test_a_stop_signal_commits_and_releases_the_lock(project: Project,
                                                     sig: int,
                                                     want: int) -> None:
    n = 40
    project.write("""
        from worldprov import Thing

        for i in range(40):
            Thing(f"t{i:03d}", i, sleep=0.3)
    """)
    first = project.start("up", "--parallel", "4")
    project.wait_for(
        lambda: len(ops_of(project.ops_done(), "create")) >= 4, first,
        "4 creates in ops.log")
    first.send_signal(sig)
    code, _, err = project.finish(first)

    assert code == want, err
    assert "Traceback" not in err, err
    created_first = set(ops_of(project.ops_done(), "create"))
    assert len(created_first) < n, "the first run finished before the signal"
    project.clear_ops()

    # The lock was released (no stale lock to clear) and every create of
    # the first run was committed: none runs again.
    proc = project.run("up")
    assert proc.returncode == 0, explain(proc)
    assert "stale lock" not in proc.stderr, explain(proc)
    again = set(ops_of(project.ops_done(), "create")) | set(
        ops_of(project.ops_done(), "create-again"))
    assert not again & created_first, again & created_first
    assert len(project.things()) == n
