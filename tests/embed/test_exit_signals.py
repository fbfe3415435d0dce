"""Exit with work in flight, and the signals that end a run: one shutdown
grace in all (issue 11, item 4)."""

from __future__ import annotations

import pytest
from hostrun import OUTRUN

# The host's shutdown grace for Python callables still running at exit.
GRACE = 2.0
# Exit must come within one grace plus generous slack; before the fix the
# grace was waited three times (2 + 2 + 5 s).
EXIT_DEADLINE = GRACE + 4.0


@pytest.mark.parametrize(("mode", "want"), [
    ("exit", 4), ("raise", 1), ("sigint", 130)])
def test_exit_with_a_call_in_flight_waits_one_grace(start, program, mode,
                                                     want):
    run = start([OUTRUN, "run", "--stall-warning", "0",
                 program("exit_inflight.py"),
                 "wait" if mode == "sigint" else mode])
    run.expect("EXITING")
    if mode == "sigint":
        run.interrupt()

    code, _, stderr = run.finish(timeout=EXIT_DEADLINE)

    assert code == want, stderr
    assert "internal error" not in stderr, stderr
