"""What the commands print (plain lines, JSON events, the live view on a
terminal, NO_COLOR), their usage errors, stack and config commands, the
Config API and components."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import time

from conftest import Project, explain, index_of, ops_of
from hostrun import DEADLINE, assert_usage_error

SGR = re.compile(r"\x1b\[[0-9;]*m")
TWO = """
    import outrun
    from worldprov import Thing

    a = Thing("a", 1)
    b = Thing("b", a.path)
    outrun.export("a", a.value)
    outrun.export("b_path", b.path)
"""


# Display ----------------------------------------------------------------

def test_plain_output_off_a_terminal(project: Project) -> None:
    project.write(TWO)
    env = dict(project.env, TERM="xterm-256color")
    proc = project.ok("up", env=env)
    assert "\x1b" not in proc.stdout + proc.stderr, explain(proc)
    lines = proc.stdout.splitlines()
    assert lines[0] == "Updating stack dev (project proj)"
    assert "  + created  pulumi-python:dynamic:Resource  a  (" in \
        proc.stdout, explain(proc)
    assert "Resources:" in lines and "    + 2 created" in lines, lines
    assert '    a: 1' in lines, lines


def test_json_events(project: Project) -> None:
    project.write(TWO)
    events, _ = project.events("up")
    assert events[0] == {"event": "start", "kind": "up", "stack": "dev",
                         "project": "proj"}
    done = [(e["op"], e["name"]) for e in events
            if e["event"] == "step" and e["status"] == "done"]
    assert done == [("create", "a"), ("create", "b")], events
    s = events[-1]
    assert s["result"] == "succeeded" and s["counts"] == {"create": 2}, s
    assert s["outputs"] == {"a": 1, "b_path": str(project.world / "b")}
    # Exactly one summary, at the end.
    assert [e["event"] for e in events].count("summary") == 1
    events, _ = project.events("destroy")
    assert events[-1]["counts"] == {"delete": 2}, events[-1]


def _on_terminal(project: Project, argv: list[str],
                 env: dict[str, str]) -> tuple[int, str]:
    """Runs argv with stdout and stderr on a pseudo-terminal (stdin not a
    tty); returns the exit code and everything written."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, cwd=project.dir, env=env,
                            stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, close_fds=True)
    os.close(slave)
    project.started.append(proc)
    chunks = []
    end = time.monotonic() + DEADLINE
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:   # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=max(1.0, end - time.monotonic()))
    finally:
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_live_view_on_a_terminal_and_no_color(project: Project) -> None:
    project.write("""
        from worldprov import Thing

        for i in range(6):
            Thing(f"t{i}", i, sleep=0.15)
    """)
    env = dict(project.env, TERM="xterm-256color", COLUMNS="100",
               LINES="30")
    code, text = _on_terminal(project, project.argv("up", "-p", "2"), env)
    assert code == 0, text
    assert "\x1b[?25l" in text and "\x1b[?25h" in text, repr(text)
    assert "in flight" in text, repr(text)
    assert "\x1b[J" in text, repr(text)          # redrawn in place
    assert SGR.search(text), repr(text)          # coloured
    assert "Resources:" in text

    project.clear_ops()
    project.write("""
        from worldprov import Thing

        for i in range(6):
            Thing(f"t{i}", i + 10, sleep=0.15)
    """)
    code, text = _on_terminal(project, project.argv("up", "-p", "2"),
                              dict(env, NO_COLOR="1"))
    assert code == 0, text
    assert "in flight" in text, repr(text)        # still live
    assert "\x1b[J" in text, repr(text)
    assert not SGR.search(text), repr(text)       # no colour
    assert len(ops_of(project.ops_done(), "update")) == 6


# Usage errors -------------------------------------------------------------

def test_folder_without_a_program(project: Project) -> None:
    for command in ("up", "preview", "destroy", "stack ls"):
        proc = project.run(command)
        first = assert_usage_error(proc)
        assert "no program" in first and str(project.dir) in first, first
    assert not (project.dir / ".outrun").exists()


def test_bad_stack_name(project: Project) -> None:
    project.write(TWO)
    for command in ("up", "preview", "stack output", "config ls"):
        proc = project.run(command, "--stack", "no good!")
        first = assert_usage_error(proc)
        assert "'no good!' is not a valid stack name" in first, first
    assert project.ops() == []


def test_missing_output_lists_the_outputs(project: Project) -> None:
    project.write(TWO)
    project.ok("up")
    proc = project.run("stack output", "nope")
    assert proc.returncode == 1, explain(proc)
    assert "no output 'nope'" in proc.stderr, explain(proc)
    assert "a, b_path" in proc.stderr, explain(proc)
    assert project.ok("stack output", "a").stdout == "1\n"


def test_stack_rm_refuses_a_stack_with_resources(project: Project) -> None:
    project.write(TWO)
    project.ok("up")
    proc = project.run("stack rm")
    assert proc.returncode not in (0, 2), explain(proc)
    assert "resources" in proc.stderr, explain(proc)
    assert "Traceback" not in proc.stderr, explain(proc)
    ls = json.loads(project.ok("stack ls", "--json").stdout)
    assert [(s["name"], s["resources"]) for s in ls] == [("dev", 2)]
    project.ok("stack rm", "--force")
    assert json.loads(project.ok("stack ls", "--json").stdout) == []
    # Forgotten, not deleted: the world keeps them.
    assert project.things() == {"a": 1, "b": str(project.world / "a")}
    # An emptied stack goes without --force.
    project.ok("up", "--stack", "other")
    project.ok("destroy", "--stack", "other")
    project.ok("stack rm", "other")
    assert json.loads(project.ok("stack ls", "--json").stdout) == []


# Config -----------------------------------------------------------------

def test_config_commands(project: Project) -> None:
    project.write(TWO)
    project.ok("config set", "region", "north")
    project.ok("config set", "count", "3")
    project.ok("config set", "other:key", input="from stdin\n")
    assert project.ok("config get", "region").stdout == "north\n"
    assert project.ok("config get", "proj:count").stdout == "3\n"
    assert project.ok("config get", "other:key").stdout == "from stdin\n"
    rows = json.loads(project.ok("config ls", "--json").stdout)
    assert rows == {"proj:region": "north", "proj:count": "3",
                    "other:key": "from stdin"}
    text = project.ok("config").stdout
    assert "proj:region" in text and "north" in text
    project.ok("config set", "region", "south")
    assert project.ok("config get", "region").stdout == "south\n"
    project.ok("config rm", "region")
    proc = project.run("config get", "region")
    assert proc.returncode == 1, explain(proc)
    assert "'proj:region' is not set" in proc.stderr, explain(proc)
    proc = project.run("config rm", "region")
    assert proc.returncode == 1, explain(proc)
    # Stacks have their own configuration.
    project.ok("config set", "region", "west", "--stack", "prod")
    assert project.ok("config get", "region", "--stack",
                      "prod").stdout == "west\n"
    assert project.run("config get", "region").returncode == 1


CONFIG = """
    import outrun

    cfg = outrun.Config()
    outrun.export("name", cfg.get("name"))
    outrun.export("default", cfg.get("absent", "fallback"))
    outrun.export("count", cfg.get_int("count"))
    outrun.export("flag", cfg.get_bool("flag"))
    outrun.export("other", outrun.Config("other").get("key"))
    {extra}
"""


def test_config_in_the_program(project: Project) -> None:
    project.write(CONFIG.format(extra=""))
    project.ok("config set", "name", "web")
    project.ok("config set", "count", "7")
    project.ok("config set", "flag", "true")
    project.ok("config set", "other:key", "k")
    s = project.summary("up")
    assert s["outputs"] == {"name": "web", "default": "fallback",
                            "count": 7, "flag": True, "other": "k"}, s

    project.write(CONFIG.format(extra='cfg.require("missing")'))
    proc = project.run("up")
    assert proc.returncode == 1, explain(proc)
    assert "Missing required configuration variable 'proj:missing'" in \
        proc.stderr, explain(proc)
    assert "outrun config set proj:missing" in proc.stderr, explain(proc)

    project.write(CONFIG.format(extra=""))
    project.ok("config set", "count", "many")
    proc = project.run("up")
    assert proc.returncode == 1, explain(proc)
    assert "Configuration 'proj:count' value 'many' is not a valid 'int'" \
        in proc.stderr, explain(proc)

    project.ok("config set", "count", "1")
    project.ok("config set", "flag", "maybe")
    proc = project.run("up")
    assert proc.returncode == 1, explain(proc)
    assert "Configuration 'proj:flag' value 'maybe' is not a valid 'bool'" \
        in proc.stderr, explain(proc)


# Components -----------------------------------------------------------------

COMPONENT = """
    import outrun
    from worldprov import Thing

    class Pair(outrun.ComponentResource):
        def __init__(self, name, opts=None):
            super().__init__("test:index:Pair", name, None, opts)
            child = outrun.ResourceOptions(parent=self)
            self.left = Thing(f"{name}-l", 1, sleep=0.2, opts=child)
            self.right = Thing(f"{name}-r", 2, opts=child)
            self.register_outputs({"left": self.left.path})

    BODY
"""


def test_components(project: Project) -> None:
    project.write(COMPONENT.replace("BODY", """
    p = Pair("p")
    after = Thing("after", 3, opts=outrun.ResourceOptions(depends_on=[p]))
    outrun.export("left_urn", p.left.urn)
    outrun.export("pair_urn", p.urn)"""))
    s = project.summary("up")
    assert s["counts"] == {"create": 4}, s   # the component too
    assert s["outputs"]["pair_urn"] == \
        "urn:pulumi:dev::proj::test:index:Pair::p", s
    assert s["outputs"]["left_urn"] == (
        "urn:pulumi:dev::proj::test:index:Pair$pulumi-python:dynamic:"
        "Resource::p-l"), s
    ops = project.ops()
    # depends_on a component waits for its children.
    start_after = index_of(ops, "start", "after")
    assert index_of(ops, "create", "p-l") < start_after, ops
    assert index_of(ops, "create", "p-r") < start_after, ops
    assert project.things() == {"p-l": 1, "p-r": 2, "after": 3}
    # register_outputs: the component's outputs are in its state row.
    conn = sqlite3.connect(f"file:{project.state_db}?mode=ro", uri=True)
    try:
        (data,), = conn.execute(
            "SELECT data FROM resources WHERE urn = ?",
            (s["outputs"]["pair_urn"],)).fetchall()
    finally:
        conn.close()
    assert '"left"' in data and str(project.world / "p-l") in data, data

    project.clear_ops()
    project.write(COMPONENT.replace("BODY", 'Thing("after", 3)'))
    events, _ = project.events("up")
    assert sorted(ops_of(project.ops_done(), "delete")) == ["p-l", "p-r"]
    deleted = [e["name"] for e in events
               if e["event"] == "step" and e["status"] == "done"
               and e["op"] == "delete"]
    assert sorted(deleted) == ["p", "p-l", "p-r"], events
    assert deleted.index("p") == 2, deleted     # children first
    assert project.things() == {"after": 3}


def test_program_errors_are_in_the_summary(project: Project) -> None:
    # A program that raises after declaring a resource: the resource's
    # step still finishes, and the summary says why the run failed.
    project.write("""
        from worldprov import Thing

        Thing("a", 1)
        raise RuntimeError("the program gave up")
    """)
    events, proc = project.events("up", expect=1)
    s = events[-1]
    assert s["result"] == "failed", s
    assert s["counts"] == {"create": 1}, s
    assert s["failures"] == [{"urn": "program",
                              "message": "RuntimeError: the program gave up"}]
    assert "the program gave up" in proc.stderr, proc.stderr
    proc = project.run("up")
    assert proc.returncode == 1
    assert "program: RuntimeError: the program gave up" in \
        proc.stdout.split("Failures:", 1)[-1], proc.stdout
    project.write("""
        import sys

        sys.exit(3)
    """)
    s = project.summary("up", expect=3)
    assert s["failures"] == [{"urn": "program", "message": "sys.exit(3)"}]


def test_config_set_refuses_malformed_keys(project: Project) -> None:
    project.write("""
        import outrun
    """)
    for key in ("", ":x", "x:", "a:b:c"):
        proc = project.run("config set", key, "v")
        assert proc.returncode == 2, explain(proc)
        assert "is not a configuration key" in proc.stderr, explain(proc)
    project.ok("config set", "ns:name", "v")
    listed = json.loads(project.ok("config", "--json").stdout)
    assert listed == {"ns:name": "v"}, listed
