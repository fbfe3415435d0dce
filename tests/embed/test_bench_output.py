"""outrun bench output: runs at a small scale, prints the table and writes
the JSON, with pulumi as the peer when a benchmark environment has it and
Outrun alone when not.  What the numbers are is the benchmark's business,
never a test's."""

from __future__ import annotations

import subprocess

import pytest
from hostrun import BUILD_DIR, DEADLINE, OUTRUN, host_env, run_bench

# What the scenario measures: one row each, in this order.
ROWS = ("apply chain", "apply fan-out", "Output.all", "Output.concat",
        "Output.format", "from_input", "memory", "memory")

# The environment scripts/bench-env.sh makes, with pulumi in it.
BENCH_VENV = BUILD_DIR / "bench-venv"


def _can_import_pulumi(env: dict[str, str]) -> bool:
    proc = subprocess.run([OUTRUN, "python", "-c", "import pulumi"],
                          env=env, capture_output=True, timeout=DEADLINE,
                          check=False)
    return proc.returncode == 0


def _bench(outrun, tmp_path, env: dict[str, str]) -> tuple[str, list[dict]]:
    proc, doc = run_bench(outrun, tmp_path, "output", env=env)
    rows = doc["rows"]
    assert len(rows) == len(ROWS), [r["scenario"] for r in rows]
    for row, start in zip(rows, ROWS):
        assert row["scenario"].startswith(start), row["scenario"]
    for row in rows:
        assert row["runs"] == 1
        assert len(row["outrun_samples"]) == 1
        assert row["outrun_value"] > 0
        assert row["per"]
        assert row["unit"] in ("s", "B")
    return proc.stderr, rows


def test_bench_output_without_pulumi_shows_outrun_alone(outrun, tmp_path):
    env = host_env()
    if _can_import_pulumi(env):
        pytest.skip("pulumi is importable without the benchmark venv")

    stderr, rows = _bench(outrun, tmp_path, env)

    said = [line for line in stderr.splitlines() if "pulumi" in line]
    assert len(said) == 1 and "not importable" in said[0], stderr
    for row in rows:
        assert row["peer_value"] is None
        assert row["peer_absent"] == "not installed"
        assert row["peer_samples"] == []
        assert row["ratio"] is None


def test_bench_output_beside_pulumi(outrun, tmp_path):
    env = host_env(VIRTUAL_ENV=str(BENCH_VENV))
    if not (BENCH_VENV / "pyvenv.cfg").exists() or not _can_import_pulumi(
            env):
        pytest.skip("no benchmark venv with pulumi (scripts/bench-env.sh)")

    stderr, rows = _bench(outrun, tmp_path, env)

    assert "not importable" not in stderr
    for row in rows:
        assert row["peer"].startswith("pulumi")
        assert row["peer_value"] > 0
        assert len(row["peer_samples"]) == 1
        assert row["ratio"] == pytest.approx(
            row["outrun_value"] / row["peer_value"])
