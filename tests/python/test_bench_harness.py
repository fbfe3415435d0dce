"""The benchmark table: a row without a peer, and an absolute goal.  No
timing here: the rows are made up."""

from __future__ import annotations

import io

from outrun.bench._harness import Row, print_table
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
