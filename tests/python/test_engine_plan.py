"""Planning a resource's step, and the order of deletes: the pure
functions of outrun._engine.plan, and the deployment driven directly on a
loop (no host) with a real state file."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from _outrun import UNKNOWN
from outrun import _monitor
from outrun._engine import deployment as deployment_mod
from outrun._engine import plan
from outrun._engine.state import ResourceState, Store
from outrun.dynamic import (
    CreateResult,
    DiffResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

# ---------------------------------------------------------------------------
# changed_keys, apply_ignore_changes


def test_changed_keys_finds_changed_added_and_removed_keys():
    old = {"a": 1, "b": "x", "c": [1, 2], "gone": 5}
    new = {"a": 1, "b": "y", "c": [1, 2, 3], "added": True}

    assert sorted(plan.changed_keys(old, new)) == ["added", "b", "c", "gone"]


def test_a_missing_key_and_none_are_the_same():
    assert plan.changed_keys({"a": None}, {}) == []
    assert plan.changed_keys({}, {"a": None}) == []
    assert plan.changed_keys({"a": 1, "b": None}, {"a": 1}) == []


def test_nested_values_compare_by_value():
    assert plan.changed_keys({"k": {"x": [1, {"y": 2}]}},
                             {"k": {"x": [1, {"y": 2}]}}) == []
    assert plan.changed_keys({"k": {"x": [1, {"y": 2}]}},
                             {"k": {"x": [1, {"y": 3}]}}) == ["k"]


def test_ignore_changes_takes_back_the_old_value():
    old = {"a": 1, "b": 2}
    news = {"a": 10, "b": 20, "c": 30}

    out = plan.apply_ignore_changes(old, news, ["a", "c"])

    assert out == {"a": 1, "b": 20}
    assert news == {"a": 10, "b": 20, "c": 30}  # not changed in place


# ---------------------------------------------------------------------------
# decide


def test_no_change_is_same():
    assert plan.decide({"a": 1}, {"a": 1}, None) == (plan.SAME, [], [])


def test_a_change_is_an_update_when_the_provider_can_update():
    op, changed, replaces = plan.decide({"a": 1}, {"a": 2}, None)

    assert (op, changed, replaces) == (plan.UPDATE, ["a"], [])


def test_a_change_is_a_replace_when_the_provider_cannot_update():
    op, changed, replaces = plan.decide({"a": 1}, {"a": 2}, None,
                                        can_update=False)

    assert (op, changed, replaces) == (plan.REPLACE, ["a"], ["a"])


def test_replace_on_changes_names_the_keys_that_replace():
    op, changed, replaces = plan.decide(
        {"a": 1, "b": 1}, {"a": 2, "b": 1}, None, replace_on_changes=["a"])
    assert (op, replaces) == (plan.REPLACE, ["a"])

    op, _, _ = plan.decide({"a": 1, "b": 1}, {"a": 1, "b": 2}, None,
                           replace_on_changes=["a"])
    assert op == plan.UPDATE


def test_replace_on_changes_star_means_any_key():
    op, _, replaces = plan.decide({"a": 1}, {"a": 2}, None,
                                  replace_on_changes=["*"])

    assert (op, replaces) == (plan.REPLACE, ["a"])


def test_the_providers_diff_wins_over_the_inputs():
    # The inputs differ, but the provider says nothing changed.
    assert plan.decide({"a": 1}, {"a": 2},
                       DiffResult(changes=False))[0] == plan.SAME
    # The inputs are equal, but the provider sees a change.
    op, changed, _ = plan.decide({"a": 1}, {"a": 1},
                                 DiffResult(changes=True))
    assert op == plan.UPDATE and changed
    # The provider asks for a replacement.
    op, _, replaces = plan.decide({"a": 1}, {"a": 2},
                                  DiffResult(changes=True, replaces=["a"]))
    assert (op, replaces) == (plan.REPLACE, ["a"])


def test_a_diff_without_an_opinion_falls_back_to_the_inputs():
    assert plan.decide({"a": 1}, {"a": 1}, DiffResult())[0] == plan.SAME
    assert plan.decide({"a": 1}, {"a": 2}, DiffResult())[0] == plan.UPDATE


def test_unknowns_are_found_at_any_depth():
    assert plan.has_unknowns({"a": 1, "b": [1, {"c": UNKNOWN}]})
    assert not plan.has_unknowns({"a": 1, "b": [1, {"c": 2}]})


# ---------------------------------------------------------------------------
# delete_order


def _state(urn: str, deps: tuple[str, ...] = (), parent: str | None = None,
           delete: bool = False) -> ResourceState:
    return ResourceState(urn=urn, type="t", name=urn, custom=True,
                         deps=deps, parent=parent, delete=delete)


def _order(states: list[ResourceState]) -> list[list[str]]:
    return [sorted(w) for w in plan.delete_order({s.key: s for s in states})]


def test_dependents_are_deleted_before_what_they_depend_on():
    # c -> b -> a (c depends on b, b on a); d independent.
    waves = _order([_state("a"), _state("b", ("a",)), _state("c", ("b",)),
                    _state("d")])

    assert waves == [["c", "d"], ["b"], ["a"]]


def test_children_are_deleted_before_their_parent():
    waves = _order([_state("p"), _state("k1", parent="p"),
                    _state("k2", parent="p")])

    assert waves == [["k1", "k2"], ["p"]]


def test_a_dependency_outside_the_set_does_not_hold_anything_back():
    waves = _order([_state("b", ("elsewhere",))])

    assert waves == [["b"]]


def test_every_resource_is_in_exactly_one_wave_even_with_a_cycle():
    states = [_state("a", ("b",)), _state("b", ("a",)), _state("c")]

    waves = _order(states)

    flat = [k for w in waves for k in w]
    assert sorted(flat) == ["a", "b", "c"]
    assert waves[0] == ["c"]


def test_a_replaced_resources_old_half_waits_for_its_dependents_too():
    old_half = _state("a", delete=True)
    waves = plan.delete_order({old_half.key: old_half,
                               "b": _state("b", ("a",))})

    assert waves == [["b"], [old_half.key]]


# ---------------------------------------------------------------------------
# parse_duration


@pytest.mark.parametrize("text,seconds", [
    ("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("2.5s", 2.5),
    ("90", 90.0),
])
def test_durations(text: str, seconds: float) -> None:
    assert deployment_mod.parse_duration(text) == seconds


def test_a_bad_duration_says_how_to_write_one():
    with pytest.raises(ValueError, match="like '30s'"):
        deployment_mod.parse_duration("five minutes")


# ---------------------------------------------------------------------------
# The deployment on a loop, with a real state file


class _Quiet:
    """A display that counts what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def start(self) -> None:
        pass

    def step_started(self, step: Any) -> None:
        self.events.append(("started", step.op, step.name))

    def step_finished(self, step: Any) -> None:
        self.events.append(("finished", step.op, step.name))

    def step_skipped(self, step: Any, reason: str) -> None:
        self.events.append(("skipped", "", step.name))

    def same(self, step: Any) -> None:
        self.events.append(("same", "same", step.name))

    def diag(self, level: str, message: str, urn: str | None = None) -> None:
        self.events.append(("diag", level, message))


class CountingProvider(ResourceProvider):
    """Blocking creates that count how many run at once."""

    lock = threading.Lock()
    now = 0
    peak = 0
    calls = 0

    def create(self, props: Any) -> CreateResult:
        cls = CountingProvider
        with cls.lock:
            cls.now += 1
            cls.calls += 1
            cls.peak = max(cls.peak, cls.now)
        try:
            time.sleep(0.02)  # long enough for the others to start
        finally:
            with cls.lock:
                cls.now -= 1
        return CreateResult(props["n"], dict(props, out=props["n"] + "!"))

    def update(self, _id: str, _olds: Any, news: Any) -> UpdateResult:
        return UpdateResult(dict(news, out=news["n"] + "?"))


def _run(tmp_path: Any, program: Any, parallel: int = 64,
         kind: str = "up") -> tuple[deployment_mod.Deployment, _Quiet]:
    store = Store.open(str(tmp_path), passphrase=lambda *a: "pw")
    display = _Quiet()
    loop = asyncio.new_event_loop()
    try:
        store.create_stack("dev")

        async def main() -> deployment_mod.Deployment:
            dep = deployment_mod.Deployment(
                kind=kind, project="proj", stack="dev", store=store,
                display=display, parallel=parallel, config={}, loop=loop)
            dep.load(store.resources("dev"), store.providers("dev"))
            with _monitor.activate(dep):
                program()
                await dep.wait_idle()
                if kind == "up":
                    await dep.delete_removed()
                await dep.finish_outputs()
            return dep

        dep = loop.run_until_complete(main())
    finally:
        loop.close()
        store.close()
    return dep, display


def _reset_counts() -> None:
    CountingProvider.now = CountingProvider.peak = CountingProvider.calls = 0


@pytest.mark.parametrize("parallel", [1, 3, 8])
def test_parallel_bounds_the_provider_operations_in_flight(tmp_path, parallel):
    _reset_counts()

    def program() -> None:
        for i in range(24):
            Resource(CountingProvider(), f"r{i}", {"n": f"r{i}", "out": None})

    dep, _ = _run(tmp_path, program, parallel=parallel)

    assert CountingProvider.calls == 24
    assert CountingProvider.peak == parallel
    assert dep.peak_in_flight == parallel
    assert dep.counts == {"create": 24}


def test_a_second_up_plans_same_for_everything_and_calls_nothing(tmp_path):
    def program() -> None:
        for i in range(5):
            Resource(CountingProvider(), f"r{i}", {"n": f"r{i}", "out": None})

    _reset_counts()
    _run(tmp_path, program)
    _reset_counts()

    dep, display = _run(tmp_path, program)

    assert CountingProvider.calls == 0
    assert dep.counts == {"same": 5}
    assert [e[0] for e in display.events] == ["same"] * 5


class Tracking(CountingProvider):
    """Remembers what it deleted."""

    deleted: list[str] = []

    def delete(self, id_: str, props: Any) -> None:
        Tracking.deleted.append(id_)


def test_a_changed_input_updates_and_a_removed_resource_is_deleted(tmp_path):
    Tracking.deleted = deleted = []

    def first() -> None:
        Resource(Tracking(), "keep", {"n": "keep", "out": None})
        Resource(Tracking(), "edit", {"n": "edit", "v": 1, "out": None})
        Resource(Tracking(), "drop", {"n": "drop", "out": None})

    def second() -> None:
        Resource(Tracking(), "keep", {"n": "keep", "out": None})
        Resource(Tracking(), "edit", {"n": "edit", "v": 2, "out": None})

    _run(tmp_path, first)
    dep, _ = _run(tmp_path, second)

    assert dep.counts == {"same": 1, "update": 1, "delete": 1}
    assert deleted == ["drop"]
    store = Store.open(str(tmp_path), passphrase=lambda *a: "pw")
    try:
        states = store.resources("dev")
    finally:
        store.close()
    assert sorted(s.name for s in states.values()) == ["edit", "keep"]
    edit = next(s for s in states.values() if s.name == "edit")
    assert edit.inputs["v"] == 2 and edit.outputs["out"] == "edit?"
    assert edit.pending is None


def test_preview_calls_no_provider_write_and_leaves_the_state(tmp_path):
    _reset_counts()

    def program() -> None:
        Resource(CountingProvider(), "r", {"n": "r", "out": None})

    dep, display = _run(tmp_path, program, kind="preview")

    assert CountingProvider.calls == 0
    assert dep.counts == {"create": 1}
    store = Store.open(str(tmp_path), passphrase=lambda *a: "pw")
    try:
        assert store.resources("dev") == {}
    finally:
        store.close()


def test_what_a_kept_resource_depends_on_is_not_deleted(tmp_path):
    from outrun.resource import ResourceOptions

    Tracking.deleted = deleted = []

    def first() -> None:
        a = Resource(Tracking(), "a", {"n": "a", "out": None})
        Resource(Tracking(), "b", {"n": "b", "dep": a.id, "out": None},
                 ResourceOptions(protect=True))
        Resource(Tracking(), "c", {"n": "c", "out": None})

    _run(tmp_path, first)
    dep, display = _run(tmp_path, lambda: None)

    # b is protected: its delete fails; a, which b depends on, stays too;
    # c, unrelated, goes.
    assert deleted == ["c"]
    assert [f[0].rsplit("::", 1)[1] for f in dep.failures] == ["b"]
    assert ("skipped", "", "a") in display.events
    store = Store.open(str(tmp_path), passphrase=lambda *a: "pw")
    try:
        names = sorted(s.name for s in store.resources("dev").values())
    finally:
        store.close()
    assert names == ["a", "b"]


def test_change_options_take_one_name_as_a_string() -> None:
    from outrun import ResourceOptions as Opts

    # One name as a string is that name, not a list of its letters.
    assert Opts(ignore_changes="value").ignore_changes == ["value"]
    assert Opts(replace_on_changes="size").replace_on_changes == ["size"]
    assert Opts(ignore_changes=["a", "b"]).ignore_changes == ["a", "b"]
    merged = Opts.merge(Opts(ignore_changes="a"), Opts(ignore_changes="b"))
    assert merged.ignore_changes == ["a", "b"]
