"""Faults of the state file in whole runs (issue 11, items 8, 9, 10): a
disk that fills up in the middle of a run, the run after it, a row of the
wrong types, and two first runs of a new project at once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Project, explain

MANY = 3000
# Two commits: the first fits on the disk, the second does not.  The first
# is then still in the -wal file, and copying it into the main file when
# the run ends fails for want of room as well.
RANDOMS = f"""
    import asyncio
    import outrun
    from outrun.providers.random import RandomString

    for i in range(1000):
        RandomString(f"r{{i}}", length=16)
    await asyncio.sleep(0.2)
    for i in range(1000, {MANY}):
        RandomString(f"r{{i}}", length=16)
    outrun.export("n", {MANY})
"""

TWO = """
    import outrun
    from worldprov import Thing

    a = Thing("a", 1)
    b = Thing("b", a.path)
    outrun.export("a", a.value)
"""


def _mount(point: Path, size: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                    str(point)], check=True, capture_output=True, text=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs of its own, unmounted at the end."""
    point = tmp_path / "disk"
    point.mkdir()
    try:
        _mount(point, "2m")
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root or "
                    f"CAP_SYS_ADMIN): {detail}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _resources(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM resources").fetchone()[0]
    finally:
        conn.close()


def _cut_short(db: Path) -> bool:
    """Whether the main file is shorter than its header says (the state
    the damage check used to call "cut short")."""
    header = db.read_bytes()[:100]
    pages = int.from_bytes(header[28:32], "big")
    size = int.from_bytes(header[16:18], "big")
    return db.stat().st_size < pages * size


def test_full_disk_mid_run_then_the_next_runs(small_disk: Path) -> None:
    project = Project(small_disk)
    project.write(RANDOMS)

    # The run that fills the disk: no traceback, the normal summary, and
    # no "created" line for a resource the state does not hold.
    proc = project.run("up")
    assert proc.returncode == 1, explain(proc)
    assert "Traceback" not in proc.stderr, explain(proc)
    assert "the disk is full" in proc.stderr, explain(proc)
    held = _resources(project.state_db)
    assert held < MANY, ("the disk did not fill", explain(proc))
    shown = proc.stdout.count("+ created")
    assert shown == held, (shown, held, explain(proc))
    assert "not recorded" in proc.stdout, explain(proc)
    assert proc.stdout.rstrip().endswith("Update failed"), explain(proc)

    # Item 8: the log holds what the main file lacks; the next runs must
    # not call that damage.
    assert _cut_short(project.state_db), \
        "the full disk did not leave the main file short of its header"
    ls = project.run("stack ls")
    assert ls.returncode == 0, explain(ls)
    assert "dev" in ls.stdout and "damaged" not in ls.stderr, explain(ls)

    # Still full: --json ends with its summary too.
    events, proc = project.events("up", expect=1)
    assert "Traceback" not in proc.stderr, explain(proc)
    summary = events[-1]
    assert summary["result"] == "failed"
    assert "create" not in summary["counts"], summary
    assert any("not recorded" in f["message"] for f in summary["failures"])
    done = [e for e in events if e["event"] == "step"
            and e["status"] == "done"]
    assert len(done) == _resources(project.state_db) - held, summary

    # Room again: the next run does what was not recorded, and forgets
    # nothing.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)],
                   check=True)
    summary = project.summary("up")
    assert summary["result"] == "succeeded", summary
    assert _resources(project.state_db) == MANY
    assert project.summary("up")["counts"] == {"same": MANY}


@pytest.mark.parametrize("command", ["up", "preview", "destroy"])
def test_row_of_wrong_types_ends_with_the_summary(project: Project,
                                                  command: str) -> None:
    project.write(TWO)
    project.ok("up")
    project.clear_ops()
    db = sqlite3.connect(project.state_db)
    urn, data = db.execute("SELECT urn, data FROM resources WHERE urn LIKE "
                           "'%::b'").fetchone()
    row = json.loads(data)
    row[10] = 7   # dependencies: an integer, not a list
    db.execute("UPDATE resources SET data = ? WHERE urn = ?",
               (json.dumps(row), urn))
    db.commit()
    db.close()
    args = ("--yes",) if command == "destroy" else ()
    proc = project.run(command, *args)
    assert proc.returncode == 1, explain(proc)
    assert "Traceback" not in proc.stderr, explain(proc)
    assert urn in proc.stderr and "'dependencies'" in proc.stderr, \
        explain(proc)
    assert "DELETE FROM resources" in proc.stderr, explain(proc)
    assert "Failures:" in proc.stdout and urn in proc.stdout, explain(proc)
    summary = project.summary(command, *args, expect=1)
    assert summary["result"] == "failed"
    assert urn in summary["failures"][0]["message"]
    assert project.ops() == []


def test_concurrent_first_runs_get_the_lock_message(tmp_path: Path) -> None:
    # Item 9: the loser of two first runs of a new project used to find
    # the state half made and call it another program's database.
    pairs = 20
    seen = {"ok": 0, "locked": 0}
    for i in range(pairs):
        root = tmp_path / f"pair{i}"
        root.mkdir()
        project = Project(root)
        project.write(TWO)
        procs = [project.start("up") for _ in range(2)]
        for proc in procs:
            code, out, err = project.finish(proc)
            assert "not Outrun state" not in err, (i, code, out, err)
            assert "Traceback" not in err, (i, code, out, err)
            if code == 0:
                seen["ok"] += 1
            else:
                assert code == 1 and "is locked by" in err, \
                    (i, code, out, err)
                seen["locked"] += 1
        project.cleanup()
        assert not [p for p in (project.dir / ".outrun").iterdir()
                    if p.name.endswith(".tmp")]
        assert project.summary("up")["counts"] == {"same": 2}
    assert seen["ok"] >= pairs, seen
