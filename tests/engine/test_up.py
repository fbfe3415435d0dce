"""up, a second up, edits of the program, destroy: what the provider is
asked to do, in which order, and what the world and the state hold."""

from __future__ import annotations

import json
import signal

from conftest import Project, explain, index_of, ops_of

THREE = """
    import outrun
    from worldprov import Thing

    a = Thing("a", 1)
    b = Thing("b", 2)
    c = Thing("c", 3)
    outrun.export("a_path", a.path)
    outrun.export("values", [a.value, b.value, c.value])
"""


def test_up_creates_and_second_up_changes_nothing(project: Project) -> None:
    project.write(THREE)
    s = project.summary("up")
    assert s["result"] == "succeeded"
    assert s["counts"].get("create") == 3, s
    assert project.things() == {"a": 1, "b": 2, "c": 3}
    assert sorted(ops_of(project.ops_done(), "create")) == ["a", "b", "c"]
    assert len(project.ops_done()) == 3
    out = json.loads(project.ok("stack output", "--json").stdout)
    assert out == {"a_path": str(project.world / "a"), "values": [1, 2, 3]}

    project.clear_ops()
    events, _ = project.events("up")
    assert project.ops() == []
    assert events[-1]["counts"] == {"same": 3}, events[-1]
    assert sorted(e["name"] for e in events if e["event"] == "same") \
        == ["a", "b", "c"]
    assert project.things() == {"a": 1, "b": 2, "c": 3}


def test_changed_value_updates_in_place(project: Project) -> None:
    project.write(THREE)
    project.ok("up")
    project.clear_ops()
    project.write(THREE.replace('Thing("b", 2)', 'Thing("b", 20)'))
    s = project.summary("up")
    assert s["counts"] == {"update": 1, "same": 2}, s
    assert [(o["op"], o["name"]) for o in project.ops_done()] \
        == [("update", "b")]
    assert project.things() == {"a": 1, "b": 20, "c": 3}
    out = json.loads(project.ok("stack output", "values", "--json").stdout)
    assert out == [1, 20, 3]


REPLACED = """
    import outrun
    from worldprov import Thing

    r = Thing("r", {value}, opts=outrun.ResourceOptions(
        replace_on_changes=["value"]{dbr}))
"""


def test_replace_creates_the_new_before_deleting_the_old(
        project: Project) -> None:
    project.write(REPLACED.format(value=1, dbr=""))
    project.ok("up")
    project.clear_ops()
    project.write(REPLACED.format(value=2, dbr=""))
    s = project.summary("up")
    assert s["counts"].get("replace") == 1, s
    ops = project.ops_done()
    kinds = [o["op"] for o in ops]
    # The new file is written over the old one's name: create-again.
    assert sorted(kinds) == ["create-again", "delete"], ops
    assert kinds.index("create-again") < kinds.index("delete"), ops
    assert project.things() == {"r": 2}


def test_delete_before_replace_deletes_first(project: Project) -> None:
    dbr = ", delete_before_replace=True"
    project.write(REPLACED.format(value=1, dbr=dbr))
    project.ok("up")
    project.clear_ops()
    project.write(REPLACED.format(value=2, dbr=dbr))
    s = project.summary("up")
    assert s["counts"].get("replace") == 1, s
    assert [o["op"] for o in project.ops_done()] == ["delete", "create"]
    assert project.things() == {"r": 2}


DBR_EDIT = """
    import outrun
    from worldprov import Thing

    r = Thing("r", {value}, sleep={sleep}, fail={fail!r},
              opts=outrun.ResourceOptions(replace_on_changes=["value"],
                                          delete_before_replace=True))
"""


def test_delete_before_replace_whose_create_fails_forgets_the_old(
        project: Project) -> None:
    project.write(DBR_EDIT.format(value=1, sleep=0, fail=None))
    project.ok("up")
    project.clear_ops()
    project.write(DBR_EDIT.format(value=2, sleep=0, fail="no room"))
    s = project.summary("up", expect=1)
    assert "no room" in s["failures"][0]["message"], s
    assert [o["op"] for o in project.ops_done()] == ["delete"]
    assert project.things() == {}
    # The old one is gone from the state too: the next up creates, and
    # deletes nothing a second time.
    project.clear_ops()
    project.write(DBR_EDIT.format(value=2, sleep=0, fail=None))
    s = project.summary("up")
    assert s["counts"] == {"create": 1}, s
    assert [o["op"] for o in project.ops_done()] == ["create"]
    assert project.things() == {"r": 2}


def test_delete_before_replace_killed_during_the_create_is_reported(
        project: Project) -> None:
    project.write(DBR_EDIT.format(value=1, sleep=0, fail=None))
    project.ok("up")
    project.clear_ops()
    project.write(DBR_EDIT.format(value=2, sleep=30, fail=None))
    first = project.start("up")
    project.wait_for(
        lambda: any(o["op"] == "start" and o["what"] == "create"
                    for o in project.ops()), first, "the create under way")
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    project.clear_ops()
    project.write(DBR_EDIT.format(value=2, sleep=0, fail=None))
    s = project.summary("up")
    # The new one may exist: the next run says so, and does not delete
    # the old one again.
    assert any("::r was being created" in w for w in s["warnings"]), s
    assert s["counts"] == {"create": 1}, s
    assert [o["op"] for o in project.ops_done()] == ["create"]


CHAIN = """
    import outrun
    from worldprov import Thing

    base = Thing("base", "b")
    mid = Thing("mid", base.path)
    top = Thing("top", mid.path)
    other = Thing("other", 9)
"""


def test_removed_resources_are_deleted_dependents_first(
        project: Project) -> None:
    project.write(CHAIN)
    project.ok("up")
    assert project.things()["mid"] == str(project.world / "base")
    project.clear_ops()
    project.write("""
        from worldprov import Thing
        other = Thing("other", 9)
    """)
    s = project.summary("up")
    assert s["counts"] == {"delete": 3, "same": 1}, s
    ops = project.ops_done()
    assert ops_of(ops, "delete") == ["top", "mid", "base"], ops
    assert project.things() == {"other": 9}


def test_dependents_are_created_after_what_they_depend_on(
        project: Project) -> None:
    project.write(CHAIN)
    project.ok("up")
    ops = project.ops_done()
    assert index_of(ops, "create", "base") < index_of(ops, "create", "mid") \
        < index_of(ops, "create", "top"), ops


def test_destroy_deletes_everything_dependents_first(
        project: Project) -> None:
    project.write(CHAIN)
    project.ok("up")
    project.clear_ops()
    s = project.summary("destroy")
    assert s["result"] == "succeeded" and s["counts"] == {"delete": 4}, s
    assert project.things() == {}
    deletes = ops_of(project.ops_done(), "delete")
    assert sorted(deletes) == ["base", "mid", "other", "top"]
    assert deletes.index("top") < deletes.index("mid") \
        < deletes.index("base"), deletes
    ls = json.loads(project.ok("stack ls", "--json").stdout)
    assert [(s["name"], s["resources"]) for s in ls] == [("dev", 0)]
    # An up of an empty program after it finds nothing to delete.
    project.clear_ops()
    project.write("pass\n")
    s = project.summary("up")
    assert s["counts"] == {}, s
    assert project.ops() == []


def test_ignore_changes_keeps_the_old_value(project: Project) -> None:
    src = """
        import outrun
        from worldprov import Thing

        t = Thing("t", {value}, opts=outrun.ResourceOptions(
            ignore_changes=["value"]))
        u = Thing("u", {value})
    """
    project.write(src.format(value=1))
    project.ok("up")
    project.clear_ops()
    project.write(src.format(value=2))
    s = project.summary("up")
    assert s["counts"] == {"same": 1, "update": 1}, s
    assert ops_of(project.ops_done(), "update") == ["u"]
    assert project.things() == {"t": 1, "u": 2}


def test_run_main_returning_a_mapping_makes_outputs(project: Project) -> None:
    project.write("""
        import outrun
        from worldprov import Thing

        async def main():
            t = Thing("t", "v")
            return {"path": t.path, "answer": 42}

        outrun.run(main)
    """)
    s = project.summary("up")
    assert s["outputs"] == {"path": str(project.world / "t"),
                            "answer": 42}, s
    out = json.loads(project.ok("stack output", "--json").stdout)
    assert out == {"path": str(project.world / "t"), "answer": 42}
    assert project.ok("stack output", "answer").stdout == "42\n"


ALIASED = """
    import outrun
    from outrun.providers.random import RandomString
    from worldprov import Thing

    p = Thing("p", 1)
    x = Thing("x", 2, opts=outrun.ResourceOptions({x_opts}))
    s = RandomString("{s_name}", length=8, opts=outrun.ResourceOptions(
        aliases=[outrun.Alias(name="s1")]))
    outrun.export("s", s.result)
"""


def test_aliases_take_over_renamed_and_moved_resources(
        project: Project) -> None:
    project.write(ALIASED.format(x_opts="parent=p", s_name="s1"))
    first = project.summary("up")
    assert first["counts"] == {"create": 3}, first
    project.clear_ops()
    # x leaves its parent, which is named by its URN; s is renamed.
    p_urn = f"urn:pulumi:dev::{project.dir.name}::" \
        "pulumi-python:dynamic:Resource::p"
    project.write(ALIASED.format(
        x_opts=f"aliases=[outrun.Alias(parent={p_urn!r})]", s_name="s2"))
    s = project.summary("up")
    assert s["counts"] == {"same": 3}, s
    assert project.ops() == []
    assert s["outputs"]["s"] == first["outputs"]["s"], (s, first)
    ls = json.loads(project.ok("stack ls", "--json").stdout)
    assert ls[0]["resources"] == 3, ls
    # A bad parent is refused with a message, not ignored.
    project.write(ALIASED.format(
        x_opts="aliases=[outrun.Alias(parent=p.urn)]", s_name="s2"))
    proc = project.run("preview")
    assert proc.returncode == 1, explain(proc)
    assert "Alias parent must be a resource or the parent's URN" in \
        proc.stderr, explain(proc)
