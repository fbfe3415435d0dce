"""Values that cannot be state, and bad command-line values (issue 11,
item 12): each is refused where it is made, with a message that names it,
instead of being stored as its repr (objects, functions, bytes), as NaN
(shown as NaN by `up` and null by `stack output`), as an id of the wrong
type, or silently replaced by a default."""

from __future__ import annotations

import json

import pytest
from conftest import Project, explain
from hostrun import assert_usage_error, run_process

BAD_VALUES = {
    "object": "object()",
    "function": "lambda: 1",
    "bytes": "b'xy'",
    "nan": "float('nan')",
    "inf_inside": "{'a': [1, float('inf')]}",
    "key": "{1.5: 'x'}",
}


def _outputs(project: Project) -> dict[str, object]:
    proc = project.run("stack output", "--json")
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


@pytest.mark.parametrize("value", list(BAD_VALUES.values()),
                         ids=list(BAD_VALUES))
def test_export_of_a_value_that_cannot_be_state(project: Project,
                                                value: str) -> None:
    project.write(f"""
        import outrun
        outrun.export("good", 1)
        outrun.export("bad", {value})
    """)
    proc = project.run("up")
    assert proc.returncode == 1, explain(proc)
    assert "the stack output 'bad' cannot be stored" in proc.stderr, \
        explain(proc)
    # Where it was made: the program's line.
    assert "__main__.py\", line 4" in proc.stderr, explain(proc)
    assert "bad" not in _outputs(project)


@pytest.mark.parametrize("value", ["float('nan')", "object()", "b'xy'"],
                         ids=["nan", "object", "bytes"])
def test_output_that_resolves_to_a_value_that_cannot_be_state(
        project: Project, value: str) -> None:
    project.write(f"""
        import outrun
        from worldprov import Thing
        t = Thing("t", 1)
        outrun.export("good", t.value)
        outrun.export("bad", t.value.apply(lambda v: {value}))
    """)
    summary = project.summary("up", expect=1)
    assert summary["result"] == "failed"
    failures = {f["urn"]: f["message"] for f in summary["failures"]}
    assert "cannot be stored" in failures.get("output bad", ""), summary
    assert "bad" not in summary["outputs"], summary
    assert _outputs(project) == {"good": 1}


def test_provider_id_that_is_not_a_string(project: Project) -> None:
    project.write("""
        from outrun.dynamic import CreateResult, Resource, ResourceProvider

        class NumberId(ResourceProvider):
            def create(self, props):
                return CreateResult(42, dict(props))

        class Duck:
            id = 43
            outs = {}

        class DuckId(ResourceProvider):
            def create(self, props):
                return Duck()

        Resource(NumberId(), "number", {})
        Resource(DuckId(), "duck", {})
    """)
    summary = project.summary("up", expect=1)
    failures = {f["urn"].rpartition("::")[2]: f["message"]
                for f in summary["failures"]}
    assert "id must be a non-empty string, not int 42" in \
        failures["number"], failures
    assert "returned the id 43 (int); an id must be a string" in \
        failures["duck"], failures
    stacks = json.loads(project.ok("stack ls", "--json").stdout)
    assert stacks[0]["resources"] == 0, stacks


@pytest.mark.parametrize("key", ["a b", "a\tb", "a\nb", "a\x07b", "a" * 300,
                                 "ns:a b"],
                         ids=["space", "tab", "newline", "control", "long",
                              "namespaced"])
def test_config_set_refuses_bad_keys(project: Project, key: str) -> None:
    project.write("pass\n")
    first = assert_usage_error(project.run("config set", key, "v"))
    assert "configuration key" in first, first
    project.ok("config set", "good-key", "v")
    assert project.ok("config get", "good-key").stdout == "v\n"


@pytest.mark.parametrize("command", ["up", "preview", "config set k v",
                                     "stack output", "config"])
def test_empty_stack_name_is_refused(project: Project, command: str) -> None:
    project.write("pass\n")
    words = command.split()
    proc = project.run(" ".join(words[:2] if words[0] in ("config", "stack")
                                and len(words) > 1 else words[:1]),
                       *words[2:], "-s", "")
    first = assert_usage_error(proc)
    assert "'' is empty" in first, first
    assert not project.state_db.exists() or command != "up"


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1000001", "2.5"])
def test_parallel_out_of_range(project: Project, value: str) -> None:
    project.write("pass\n")
    proc = project.run("up", "--parallel", value)
    assert proc.returncode == 2, explain(proc)
    assert f"takes a number from 1 to 100000, not '{value}'" in proc.stderr, \
        explain(proc)


@pytest.mark.parametrize("value", ["abc", "0", "5000", "-3", "4x"])
@pytest.mark.parametrize("command", ["up", "run"])
def test_outrun_threads_out_of_range(project: Project, value: str,
                                     command: str) -> None:
    project.write("pass\n")
    env = dict(project.env, OUTRUN_THREADS=value)
    if command == "run":
        proc = run_process([project.argv("up")[0], "run",
                            str(project.dir / "__main__.py")],
                           cwd=project.dir, env=env)
    else:
        proc = project.run("up", env=env)
    first = assert_usage_error(proc)
    assert f"OUTRUN_THREADS is '{value}'" in first, first
    assert "from 1 to 1024" in first, first
