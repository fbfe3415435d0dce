"""_outrun.shutdown(grace) waits out one grace in all, however often it is
called: the host calls it from Runtime.close, again before the interpreter
finalises, and atexit once more (issue 11, item 4: each call waited its
own grace, 2 + 2 + 5 s with a callable still running)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

# Far above the first call's grace and far below the second call's: only a
# second full wait reaches it.
DEADLINE = 60

CALLED_AGAIN = """
    import asyncio, time
    import _outrun, outrun

    loop = asyncio.new_event_loop()

    async def start():
        return outrun.to_thread(time.sleep, 600)

    fut = loop.run_until_complete(start())
    while _outrun.pool_stats()["running"] == 0:
        time.sleep(0.01)
    # The first call gives the running callable its grace, then abandons it.
    print(_outrun.shutdown(0.2), flush=True)
    # A later call waits at most what is left of that grace: nothing.
    print(_outrun.shutdown(600.0), flush=True)
    # atexit calls it once more, with its default grace.
"""


def test_a_second_shutdown_waits_no_second_grace():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    # The child exits with the abandoned callable's thread still asleep in
    # Python, by design; in the sanitizer build LeakSanitizer's exit-time
    # scan of such a thread crashed its tracer (signal 11) and the child
    # ended -6.  What this test counts is waits, not leaks.
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(CALLED_AGAIN)],
            capture_output=True, text=True, timeout=DEADLINE, env=env,
            check=False)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"shutdown waited a second grace (stdout {exc.stdout!r})"
        ) from None
    assert (proc.returncode, proc.stdout) == (0, "1\n1\n"), proc.stderr
