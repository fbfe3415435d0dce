"""Starts many calls at once, each held until a timer thread opens a gate
a while later, so that the pool's queue fills past its cap while the loop
thread is still submitting.  Prints the pool's counters and how many calls
succeeded.

argv: offload N | process N FLAG_FILE"""

import asyncio
import sys
import threading

import _outrun
import outrun

kind, n = sys.argv[1], int(sys.argv[2])
HOLD_S = 2.5  # longer than the test's --stall-warning threshold

if kind == "offload":
    gate = threading.Event()
    threading.Timer(HOLD_S, gate.set).start()
    calls = [outrun.offload(gate.wait, 60) for _ in range(n)]
else:
    flag = sys.argv[3]
    threading.Timer(HOLD_S, lambda: open(flag, "w").close()).start()
    wait = f"while [ ! -e '{flag}' ]; do sleep 0.05; done"
    calls = [outrun.process.run(["/bin/sh", "-c", wait]) for _ in range(n)]
print("submitted", flush=True)

results = await asyncio.gather(*(c.future() for c in calls),
                               return_exceptions=True)
ok = sum(1 for r in results
         if r is True or getattr(r, "returncode", None) == 0)
stats = _outrun.pool_stats()
print(f"ok {ok}")
print(f"submit_waits {stats['submit_waits']}")
print(f"over_cap {stats['over_cap']}")
