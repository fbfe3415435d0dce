"""outrun bench offload and outrun bench process: run at a small scale,
print the table and write the JSON rows.  What the numbers are is the
benchmark's business, never a test's."""

from __future__ import annotations

import pytest
from hostrun import run_bench

OUTRUN_SIDES = ("outrun.to_thread", "outrun.offload")
TO_THREAD = "asyncio.to_thread"
EXECUTOR = "run_in_executor(TPE("

# --scale 0.01 of 10, 100 and 1,000 sleeps.
SLEEP_NS = (1, 1, 10)


def _bench(outrun, tmp_path, scenario: str) -> list[dict]:
    _, doc = run_bench(outrun, tmp_path, scenario)
    rows = doc["rows"]
    for row in rows:
        assert row["runs"] == 1
        assert row["unit"] == "s"
        assert len(row["peer_samples"]) == len(row["outrun_samples"]) == 1
        assert row["peer_value"] > 0
        assert row["outrun_value"] > 0
        assert row["ratio"] == pytest.approx(
            row["outrun_value"] / row["peer_value"])
        assert row["meets_goal"] in (True, False, None)
    return rows


def test_bench_offload_rows(outrun, tmp_path):
    rows = _bench(outrun, tmp_path, "offload")

    assert len(rows) == 4 + 4 + 2 * 6, [r["scenario"] for r in rows]
    round_trip, gathered, sleeps = rows[:4], rows[4:8], rows[8:]
    for group, label, goal in ((round_trip, "round trip x100", 1.0),
                               (gathered, "100 gathered", 0.1)):
        assert [r["scenario"] for r in group] == [
            f"{label}, {side}" for side in OUTRUN_SIDES] * 2
        assert [r["peer"] for r in group[:2]] == [TO_THREAD] * 2
        for row in group:
            assert row["ideal"] is None
            assert row["outrun_efficiency"] is None
            if row["peer"] == TO_THREAD:
                assert row["goal"] == goal
                assert row["meets_goal"] == (row["ratio"] <= goal)
            else:
                assert row["peer"].startswith(EXECUTOR)
                assert row["goal"] is None
                assert row["meets_goal"] is None
    assert all(r["per"] == "call" for r in round_trip)

    expected = [f"{n:,} x time.sleep({ms} ms), {side}"
                for ms in (1, 10) for n in SLEEP_NS for side in OUTRUN_SIDES]
    assert [r["scenario"] for r in sleeps] == expected
    for row in sleeps:
        assert row["peer"].startswith(EXECUTOR)
        assert row["goal"] is None
        assert row["ideal"] > 0
        for side in ("peer", "outrun"):
            assert row[f"{side}_efficiency"] == pytest.approx(
                row["ideal"] / row[f"{side}_value"])
    # Only the 1,000 (here 10) sleeps of 10 ms carry the absolute goal:
    # efficiency at least 0.9.
    with_goal = [r for r in sleeps if r["max_value"] is not None]
    assert [r["scenario"] for r in with_goal] == expected[-2:]
    for row in with_goal:
        assert row["max_value"] == pytest.approx(row["ideal"] / 0.9)
        assert row["meets_goal"] == (row["outrun_efficiency"] >= 0.9)


def test_bench_process_rows(outrun, tmp_path):
    rows = _bench(outrun, tmp_path, "process")

    assert [r["peer"] for r in rows] == [
        "create_subprocess_exec + wait",
        "create_subprocess_exec + communicate",
        "subprocess.run in to_thread",
    ]
    for row in rows:
        assert row["scenario"] == "10 x true, gathered"
        assert row["ideal"] is None
    # Outrun is measured once and set beside each peer.
    assert len({r["outrun_value"] for r in rows}) == 1
    assert rows[0]["goal"] == pytest.approx(1 / 1.8)
    assert [r["goal"] for r in rows[1:]] == [None, None]
