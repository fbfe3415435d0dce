"""The _outrun extension stands alone: with only its .so on the path, in an
isolated python3 with no site-packages, it imports and its Output works,
json_dumps and json_loads included, without the outrun package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import _outrun
import pytest

# Runs in the child: argv[1] is the only folder it may import from.
CHILD = textwrap.dedent("""
    import asyncio, importlib.util, json, sys

    sys.path.insert(0, sys.argv[1])
    import _outrun
    from _outrun import Output

    async def facts(o):
        return [await o.future(), await o.is_known(), await o.is_secret(),
                sorted(await o.resources())]

    async def main():
        made = Output._resolved(1, deps=["r"])
        hidden = Output.secret("s3cret")
        unknown = Output._resolved(None, known=False)
        return {
            "dumps": await facts(Output.json_dumps({"a": made, "b": [2]},
                                                   sort_keys=True)),
            "dumps_secret": await facts(Output.json_dumps({"k": hidden})),
            "dumps_unknown": await facts(Output.json_dumps([unknown])),
            "loads": await facts(Output.json_loads('{"x": [1, null]}')),
            "loads_secret": await facts(
                Output.json_loads(Output.secret('"v"'))),
            "round_trip": await Output.json_loads(
                Output.json_dumps({"n": made})).future(),
        }

    result = asyncio.run(main())
    result["file"] = _outrun.__file__
    result["outrun_findable"] = importlib.util.find_spec("outrun") is not None
    result["outrun_loaded"] = sorted(
        n for n in sys.modules if n == "outrun" or n.startswith("outrun."))
    print(json.dumps(result))
""")


def _built_extension() -> Path:
    """The _outrun*.so of this build."""
    build_dir = os.environ.get("OUTRUN_BUILD_DIR")
    if build_dir:
        found = sorted((Path(build_dir) / "bindings").glob("_outrun*.so"))
        if found:
            return found[0]
    if getattr(_outrun, "__file__", None):
        return Path(_outrun.__file__)
    pytest.skip("no built _outrun extension to copy (set OUTRUN_BUILD_DIR)")


def test_the_extension_imports_and_works_with_nothing_else(tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    so = shutil.copy2(_built_extension(), alone)

    # -I: no PYTHON* variables, no user site, no script folder on the path;
    # -S: no site-packages.  Only `alone` (argv[1]) is added.
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", CHILD, str(alone)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)

    assert got["file"] == str(so)
    assert got["outrun_findable"] is False
    assert got["outrun_loaded"] == []
    assert got["dumps"] == ['{"a": 1, "b": [2]}', True, False, ["r"]]
    assert got["dumps_secret"] == ['{"k": "s3cret"}', True, True, []]
    assert got["dumps_unknown"] == [None, False, False, []]
    assert got["loads"] == [{"x": [1, None]}, True, False, []]
    assert got["loads_secret"] == ["v", True, True, []]
    assert got["round_trip"] == {"n": 1}
