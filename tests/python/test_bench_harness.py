"""The benchmark table: a row without a peer, and an absolute goal.  No
timing here: the rows are made up."""

from __future__ import annotations

import asyncio
import io

import pytest
from outrun.bench._harness import (
    KeptExecutor,
    Row,
    on_fresh_loop,
    print_table,
    rotate,
)
from outrun.bench.output import nested_input


def _table(*rows: Row) -> list[str]:
    out = io.StringIO()
    print_table(rows, out)
    return out.getvalue().splitlines()


def test_row_without_peer_says_why_and_has_no_ratio():
    row = Row("apply chain", "pulumi", None, 1e-6, "s", goal=0.05,
              per="apply", peer_absent="not installed")

    assert row.ratio is None
    assert row.meets_goal is None
    assert row.to_json()["ratio"] is None
    header, _, line = _table(row)
    assert "not installed" in line
    assert "1 µs/apply" in line
    ratio = line[header.index("outrun/peer"):header.index("goal")]
    assert ratio.strip() == ""
    assert line.endswith("<= 0.05x (no peer to judge)")


def test_absolute_goal_is_judged_without_a_peer():
    met = Row("memory", "pulumi", None, 128.0, "B", per="Output",
              max_value=200.0, peer_absent="not installed")
    missed = Row("memory", "pulumi", 500.0, 256.0, "B", per="Output",
                 max_value=200.0)

    assert met.meets_goal is True
    assert missed.meets_goal is False
    assert missed.ratio == 256.0 / 500.0
    lines = _table(met, missed)
    assert lines[2].endswith("<= 200 B/Output (absolute) met")
    assert lines[3].endswith("<= 200 B/Output (absolute) MISSED")


def test_ratio_and_absolute_goals_must_both_be_met():
    row = Row("x", "peer", 10.0, 1.0, "B", goal=0.05, max_value=200.0)

    assert row.meets_goal is False
    assert "<= 0.05x, <= 200 B (absolute) MISSED" in _table(row)[2]


def test_small_ratios_keep_two_significant_digits():
    row = Row("x", "peer", 30e-6, 0.9e-6, "s", goal=0.05)

    assert "0.03x" in _table(row)[2]
    assert "30 µs" in _table(row)[2]


def test_nested_input_has_the_depth_and_leaves_asked_for():
    tree = nested_input(10_000, 50, lambda i: i)

    depth, leaves, level = 0, [], tree
    while level is not None:
        depth += 1
        leaves += [v for k, v in level.items() if k != "child"]
        level = level.get("child")
    assert depth == 50
    assert sorted(leaves) == list(range(10_000))
    assert nested_input(3, 50, str) == {"k0": "0", "child": {
        "k1": "1", "child": {"k2": "2"}}}


def test_rotate_measures_every_side_each_round_starting_with_the_next():
    calls: list[str] = []

    def side(name: str, value: float):
        def measure() -> float:
            calls.append(name)
            return value
        return measure

    samples = rotate([side("a", 1.0), side("b", 2.0), side("c", 3.0)],
                     runs=3, warmup=1)

    assert samples == [[1.0] * 3, [2.0] * 3, [3.0] * 3]
    assert "".join(calls) == "abc" + "abc" + "bca" + "cab"


def test_kept_executor_serves_fresh_loops_until_closed():
    executor = KeptExecutor(max_workers=2)
    loops = []

    async def main() -> float:
        loops.append(asyncio.get_running_loop())
        return await asyncio.to_thread(lambda: 1.5)

    try:
        assert on_fresh_loop(main, executor) == 1.5
        assert on_fresh_loop(main, executor) == 1.5
    finally:
        executor.close()
    assert loops[0] is not loops[1]
    assert all(loop.is_closed() for loop in loops)
    with pytest.raises(RuntimeError):
        executor.submit(int)


def test_efficiency_is_ideal_over_each_side():
    row = Row("sleeps", "TPE", 0.2, 0.16, "s", ideal=0.16,
              max_value=0.16 / 0.9)

    assert row.peer_efficiency == 0.16 / 0.2
    assert row.outrun_efficiency == 1.0
    assert row.meets_goal is True
    data = row.to_json()
    assert data["peer_efficiency"] == row.peer_efficiency
    assert data["outrun_efficiency"] == 1.0
    assert Row("x", "p", 1.0, 1.0, "s").to_json()["outrun_efficiency"] is None
