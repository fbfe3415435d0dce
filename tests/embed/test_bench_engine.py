"""outrun bench engine: runs at a small scale (N = 1, 10, 100 and 1,000),
prints the table and writes the JSON, with pulumi's mocked SDK as the peer
when a benchmark environment has it and Outrun alone when not.  The
scenario itself checks the counts of every run (N to create, N created, N
unchanged) and fails the benchmark on a mismatch; these tests check what
it reports.  What the numbers are is the benchmark's business, never a
test's."""

from __future__ import annotations

import subprocess

import pytest
from hostrun import BUILD_DIR, DEADLINE, OUTRUN, host_env, run_bench

# The sizes at --scale 0.01, and the rows of each program at each size.
SIZES = (1, 10, 100, 1_000)
PER_SIZE = ("up from empty", "up from empty, process", "no-op up",
            "preview", "peak RSS per resource, up from empty")
PROGRAMS = ("chained", "independent")

BENCH_VENV = BUILD_DIR / "bench-venv"


def _can_import_pulumi(env: dict[str, str]) -> bool:
    proc = subprocess.run([OUTRUN, "python", "-c", "import pulumi"],
                          env=env, capture_output=True, timeout=DEADLINE,
                          check=False)
    return proc.returncode == 0


def _expected_scenarios() -> list[str]:
    names = [f"{program} x{n:,}: {what}"
             for program in PROGRAMS for n in SIZES for what in PER_SIZE]
    names += [f"{program}: up from empty per resource, x1,000 beside x10"
              for program in PROGRAMS]
    names.append("recursion limit the programs ran under, up to x1,000")
    return names


def _bench(outrun, tmp_path, env: dict[str, str]) -> tuple[str, list[dict]]:
    proc, doc = run_bench(outrun, tmp_path, "engine", env=env)
    rows = doc["rows"]
    assert [r["scenario"] for r in rows] == _expected_scenarios()
    by_name = {r["scenario"]: r for r in rows}
    for program in PROGRAMS:
        for n in SIZES:
            for what in PER_SIZE:
                row = by_name[f"{program} x{n:,}: {what}"]
                # One run each at this scale.
                assert row["runs"] == 1
                assert len(row["outrun_samples"]) == 1
                if what.startswith("peak RSS"):
                    assert row["unit"] == "KiB"
                    assert row["per"] == "resource"
                    assert row["outrun_value"] >= 0
                else:
                    assert row["unit"] == "s"
                    assert row["outrun_value"] > 0
    # Goals sit on the sizes they name, whatever the scale: the ratio
    # goal on chained 1,000 (independent 10,000 is not run at this
    # scale), the memory goal from 1,000 on, the growth goal only on
    # 1,000 beside 100,000.
    goals = {r["scenario"]: r["goal"] for r in rows
             if r["goal"] is not None}
    assert goals == {
        "chained x1,000: up from empty": pytest.approx(0.02),
        "chained x1,000: peak RSS per resource, up from empty":
            pytest.approx(0.2),
        "independent x1,000: peak RSS per resource, up from empty":
            pytest.approx(0.2)}
    for program in PROGRAMS:
        growth = by_name[
            f"{program}: up from empty per resource, x1,000 beside x10"]
        assert growth["peer"] == "outrun at x10"
        assert growth["ratio"] == pytest.approx(
            growth["outrun_value"] / growth["peer_value"])
    # Outrun's programs ran under CPython's default recursion limit at
    # every size: one sample per run of up from empty and no-op up, for
    # two programs at four sizes.
    limit = by_name["recursion limit the programs ran under, up to x1,000"]
    assert limit["outrun_samples"] == [1000.0] * 16
    assert limit["meets_goal"] is True
    return proc.stderr, rows


def test_bench_engine_without_pulumi_shows_outrun_alone(outrun, tmp_path):
    env = host_env()
    if _can_import_pulumi(env):
        pytest.skip("pulumi is importable without the benchmark venv")

    stderr, rows = _bench(outrun, tmp_path, env)

    said = [line for line in stderr.splitlines() if "pulumi" in line]
    assert len(said) == 1 and "not importable" in said[0], stderr
    for row in rows:
        if row["peer"].startswith("outrun"):
            continue
        assert row["peer_value"] is None
        assert row["peer_absent"] == "not installed"
        assert row["peer_samples"] == []
        assert row["ratio"] is None


def test_bench_engine_beside_pulumi(outrun, tmp_path):
    env = host_env(VIRTUAL_ENV=str(BENCH_VENV))
    if not (BENCH_VENV / "pyvenv.cfg").exists() or not _can_import_pulumi(
            env):
        pytest.skip("no benchmark venv with pulumi (scripts/bench-env.sh)")

    stderr, rows = _bench(outrun, tmp_path, env)

    assert "not importable" not in stderr
    # Every row but the last (the recursion limits) has one peer run.
    for row in rows[:-1]:
        if row["peer"].startswith("outrun"):
            continue
        assert row["peer"].startswith("pulumi"), row
        assert row["peer_absent"] == "", row
        assert len(row["peer_samples"]) == 1
        if row["unit"] == "s":
            assert row["peer_value"] > 0
        # Memory per resource is clamped at 0, which a tiny N can give.
        if row["peer_value"] > 0:
            assert row["ratio"] == pytest.approx(
                row["outrun_value"] / row["peer_value"])
    # The peer ran its chained programs with the recursion limit raised.
    limit = rows[-1]
    assert limit["peer_samples"] == [100_000.0] * len(SIZES)
    assert limit["peer_value"] == 100_000
