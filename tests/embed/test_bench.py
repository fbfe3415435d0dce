"""outrun bench: runs, prints the table and writes the JSON.  What the
numbers are is the benchmark's business, never a test's."""

from __future__ import annotations

import json
import math
import re

from hostrun import DEADLINE


def test_bench_startup_table_and_json(outrun, tmp_path):
    out = tmp_path / "startup.json"

    proc = outrun("bench", "startup", "--runs", "2", "--json", out,
                  timeout=3 * DEADLINE)

    assert proc.returncode == 0, proc.stderr
    table = proc.stdout.splitlines()
    assert table[0].split()[:2] == ["scenario", "peer"]
    assert any("python3" in line and re.search(r"\d+\.\d\dx", line)
               for line in table[2:]), proc.stdout
    rows = json.loads(out.read_text())["rows"]
    assert rows
    for row in rows:
        assert row["scenario"].startswith("startup")
        assert row["runs"] == 2
        assert len(row["peer_samples"]) == len(row["outrun_samples"]) == 2
        assert row["peer_value"] > 0
        assert row["outrun_value"] > 0
        assert math.isclose(row["ratio"],
                            row["outrun_value"] / row["peer_value"])
