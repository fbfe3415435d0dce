"""outrun bench ffi: runs at a small scale, prints the table and writes the
JSON rows, with the fixture's blocking call when the fixture library is
there and without that row when not.  What the numbers are is the
benchmark's business, never a test's."""

from __future__ import annotations

import pytest
from hostrun import host_env, run_bench

TO_THREAD = "ctypes in asyncio.to_thread"
ON_LOOP = "ctypes on the loop thread"

# --scale 0.01 of 100,000, 10,000, 10,000 and 1,000 calls.
ABS_ROWS = [
    ("abs() x1,000, synchronous, f.call", "ctypes direct", None),
    ("abs() x100, one at a time, await f().future()", TO_THREAD, 0.2),
    ("abs() x100, one at a time, await f().future()", ON_LOOP, None),
    ("100 abs() gathered, await f().future()", TO_THREAD, 0.2),
    ("100 abs() gathered, await f().future()", ON_LOOP, None),
]
BLOCK_ROW = "10 x fixture_block(10 ms) gathered, f().future()"


def _rows(outrun, tmp_path, env=None) -> tuple[str, list[dict]]:
    proc, doc = run_bench(outrun, tmp_path, "ffi", env=env)
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
    assert [(r["scenario"], r["peer"], r["goal"]) for r in rows[:5]] == [
        (s, p, pytest.approx(g) if g else None) for s, p, g in ABS_ROWS]
    for row in rows[:5]:
        assert row["per"] == "call"
        assert row["ideal"] is None
        assert row["max_value"] is None
        if row["goal"] is None:
            assert row["meets_goal"] is None
        else:
            assert row["meets_goal"] == (row["ratio"] <= row["goal"])
    # Outrun is measured once per scenario and set beside each peer.
    assert rows[1]["outrun_value"] == rows[2]["outrun_value"]
    assert rows[3]["outrun_value"] == rows[4]["outrun_value"]
    return proc.stderr, rows


def test_bench_ffi_rows(outrun, tmp_path):
    _, rows = _rows(outrun, tmp_path)

    assert len(rows) == 6, [r["scenario"] for r in rows]
    block = rows[5]
    assert block["scenario"] == BLOCK_ROW
    assert block["peer"] == TO_THREAD
    assert block["goal"] is None
    assert block["ideal"] >= 0.010  # ceil(10 / threads) waves of 10 ms
    assert block["max_value"] == pytest.approx(block["ideal"] / 0.9)
    assert block["meets_goal"] == (block["outrun_efficiency"] >= 0.9)
    for side in ("peer", "outrun"):
        assert block[f"{side}_efficiency"] == pytest.approx(
            block["ideal"] / block[f"{side}_value"])


def test_bench_ffi_without_fixture(outrun, tmp_path):
    missing = tmp_path / "no-such-fixture.so"
    stderr, rows = _rows(outrun, tmp_path,
                         env=host_env(OUTRUN_FFI_FIXTURE=str(missing)))

    assert len(rows) == 5, [r["scenario"] for r in rows]
    assert "fixture_block() row skipped" in stderr
    assert str(missing) in rows[0]["note"]
