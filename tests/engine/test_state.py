"""The state file: damaged or newer files are refused and left as they
are; secrets never reach the file or the output in plain text; preview
writes nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import Project, explain

TWO = """
    import outrun
    from worldprov import Thing

    a = Thing("a", 1)
    b = Thing("b", a.path)
    outrun.export("a", a.value)
"""


def _dump(db: Path) -> list[tuple[str, list[tuple]]]:
    """What the state holds (not its locks or run history), read without
    writing."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out = []
        for table in ("stacks", "resources", "providers", "outputs",
                      "config"):
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()
            out.append((table, sorted(rows, key=repr)))
        return out
    finally:
        conn.close()


@pytest.mark.parametrize("command", ["up", "preview", "stack ls",
                                     "stack output", "destroy"])
def test_garbage_state_is_refused_and_left_untouched(
        project: Project, command: str) -> None:
    project.write(TWO)
    project.ok("up")
    project.clear_ops()
    for extra in ("-wal", "-shm"):
        Path(str(project.state_db) + extra).unlink(missing_ok=True)
    garbage = b"this is not an sqlite database\n" * 200
    project.state_db.write_bytes(garbage)
    proc = project.run(command)
    assert proc.returncode not in (0, 2), explain(proc)
    assert str(project.state_db) in proc.stderr, explain(proc)
    assert "untouched" in proc.stderr, explain(proc)
    assert "Traceback" not in proc.stderr, explain(proc)
    assert project.state_db.read_bytes() == garbage
    assert project.ops() == []
    assert project.things() == {"a": 1, "b": str(project.world / "a")}


@pytest.mark.parametrize("command", ["up", "preview", "stack ls"])
def test_state_of_a_newer_outrun_is_refused(project: Project,
                                            command: str) -> None:
    project.write(TWO)
    project.ok("up")
    project.clear_ops()
    conn = sqlite3.connect(project.state_db)
    conn.execute("UPDATE meta SET value = '999' "
                 "WHERE key = 'schema_version'")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = project.state_db.read_bytes()
    proc = project.run(command)
    assert proc.returncode not in (0, 2), explain(proc)
    assert str(project.state_db) in proc.stderr, explain(proc)
    assert "newer" in proc.stderr, explain(proc)
    assert "Traceback" not in proc.stderr, explain(proc)
    assert project.state_db.read_bytes() == before
    assert project.ops() == []


SECRETS = """
    import outrun
    from outrun.providers.random import RandomPassword
    from worldprov import Thing

    cfg = outrun.Config()
    pw = RandomPassword("pw", length=24, special=False)
    Thing("holder", pw.result)
    outrun.export("db", cfg.require_secret("dbpass"))
    outrun.export("pw", pw.result)
    outrun.export("plain", "visible")
"""
DBPASS = "hunter2-XYZ"


def _state_bytes(project: Project) -> bytes:
    data = b""
    for p in project.state_db.parent.iterdir():
        data += p.read_bytes()
    return data


def test_secrets_never_reach_the_state_or_the_output(
        project: Project) -> None:
    project.write(SECRETS)
    outputs = [project.ok("config set", "--secret", "dbpass", DBPASS)]
    outputs.append(project.ok("preview"))
    outputs.append(project.ok("up"))
    outputs.append(project.ok("up", "--json"))
    outputs.append(project.ok("preview"))
    shown = project.ok("stack output", "--json")
    outputs.append(shown)
    outputs.append(project.ok("stack output"))
    outputs.append(project.ok("stack output", "db"))
    config = project.ok("config ls")
    outputs.append(config)
    outputs.append(project.ok("config ls", "--json"))
    outputs.append(project.ok("stack ls"))
    revealed = json.loads(
        project.ok("stack output", "--show-secrets", "--json").stdout)
    password = revealed["pw"]
    assert revealed["db"] == DBPASS
    assert len(password) == 24 and revealed["plain"] == "visible"
    # The resource got the plain value.
    assert project.things()["holder"] == password
    assert json.loads(shown.stdout) == {"db": "[secret]", "pw": "[secret]",
                                        "plain": "visible"}
    assert "[secret]" in config.stdout
    assert "dbpass" in config.stdout
    state = _state_bytes(project)
    for secret in (DBPASS, password):
        assert secret.encode() not in state, secret
        for proc in outputs:
            assert secret not in proc.stdout + proc.stderr, explain(proc)
    assert project.ok("config get", "dbpass").stdout == DBPASS + "\n"


def test_wrong_or_missing_passphrase(project: Project) -> None:
    project.write(SECRETS)
    project.ok("config set", "--secret", "dbpass", DBPASS)
    project.ok("up")
    project.clear_ops()
    before = _dump(project.state_db)
    wrong = dict(project.env, OUTRUN_CONFIG_PASSPHRASE="not the one")
    for command in ("up", "preview", "destroy"):
        proc = project.run(command, env=wrong)
        assert proc.returncode not in (0, 2), explain(proc)
        assert "passphrase" in proc.stderr, explain(proc)
        assert "Traceback" not in proc.stderr, explain(proc)
    proc = project.run("stack output", "--show-secrets", env=wrong)
    assert proc.returncode != 0 and "passphrase" in proc.stderr, \
        explain(proc)
    missing = dict(project.env)
    del missing["OUTRUN_CONFIG_PASSPHRASE"]
    for command in ("up", "preview"):
        proc = project.run(command, env=missing)
        assert proc.returncode not in (0, 2), explain(proc)
        assert "OUTRUN_CONFIG_PASSPHRASE" in proc.stderr, explain(proc)
        assert "Traceback" not in proc.stderr, explain(proc)
    assert project.ops() == []
    assert _dump(project.state_db) == before
    assert project.summary("up")["counts"] == {"same": 2}


def test_masked_outputs_and_config_need_no_passphrase(
        project: Project) -> None:
    project.write(SECRETS)
    project.ok("config set", "--secret", "dbpass", DBPASS)
    project.ok("config set", "region", "north")
    project.ok("up")
    missing = dict(project.env)
    del missing["OUTRUN_CONFIG_PASSPHRASE"]
    proc = project.run("stack output", "--json", env=missing)
    assert proc.returncode == 0, explain(proc)
    assert json.loads(proc.stdout) == {"db": "[secret]", "pw": "[secret]",
                                       "plain": "visible"}
    proc = project.run("config ls", "--json", env=missing)
    assert proc.returncode == 0, explain(proc)
    assert json.loads(proc.stdout) == {"proj:dbpass": "[secret]",
                                       "proj:region": "north"}


APPLY = """
    import os
    import outrun
    from worldprov import Thing

    def mark(path):
        with open(os.path.join(os.environ["WORLD_DIR"], "..", "applied"),
                  "a") as f:
            f.write(f"{{path}}\\n")
        return path

    a = Thing("a", {value})
    n = Thing("n", 2)
    n.path.apply(mark)
"""


def test_preview_changes_nothing_and_skips_applies_on_unknowns(
        project: Project) -> None:
    applied = project.world.parent / "applied"
    project.write(APPLY.format(value=1))
    proc = project.ok("preview")
    assert project.ops() == [] and project.things() == {}
    assert not applied.exists()
    lines = proc.stdout.splitlines()
    assert any("+ create" in ln and ln.endswith("  a") for ln in lines), \
        explain(proc)
    assert any("+ create" in ln and ln.endswith("  n") for ln in lines), \
        explain(proc)
    s = project.summary("preview")
    assert s["counts"] == {"create": 2}, s
    assert not applied.exists() and project.ops() == []

    project.ok("up")
    assert applied.read_text() == f"{project.world / 'n'}\n"
    assert project.things() == {"a": 1, "n": 2}
    project.clear_ops()
    before = _dump(project.state_db)

    project.write(APPLY.format(value=5))
    events, proc = project.events("preview")
    steps = [(e["op"], e["name"]) for e in events
             if e["event"] == "step" and e["status"] == "done"]
    assert steps == [("update", "a")], events
    assert events[-1]["counts"] == {"update": 1, "same": 1}, events[-1]
    assert project.ops() == []
    assert project.things() == {"a": 1, "n": 2}
    assert _dump(project.state_db) == before
    # n's path is known (n exists), so its apply ran in this preview.
    assert applied.read_text().count("\n") == 2


NESTED = """
    import outrun
    from outrun import Output
    from worldprov import Thing

    seed = Output.from_input("x")
    # Outputs inside the value an apply returns: the resource gets the
    # plain values, the export stays secret.
    held = seed.apply(lambda v: {"k": Output.secret(v + "-nested-secret"),
                                 "l": [Output.from_input(2)]})
    Thing("n", held)
    outrun.export("held", held)
"""


def test_outputs_inside_values_reach_resources_and_state_resolved(
        project: Project) -> None:
    project.write(NESTED)
    up = project.ok("up")
    # The resource received plain values, never an Output object.
    assert project.things()["n"] == {"k": "x-nested-secret", "l": [2]}
    # The export holding a secret Output is secret: shown masked, stored
    # encrypted, revealed on request.
    shown = project.ok("stack output", "--json")
    assert json.loads(shown.stdout) == {"held": "[secret]"}
    revealed = json.loads(
        project.ok("stack output", "--show-secrets", "--json").stdout)
    assert revealed == {"held": {"k": "x-nested-secret", "l": [2]}}
    assert b"x-nested-secret" not in _state_bytes(project)
    for proc in (up, shown):
        assert "x-nested-secret" not in proc.stdout + proc.stderr
