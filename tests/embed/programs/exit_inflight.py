"""Ends while an offloaded Python callable still sleeps for a minute: by
sys.exit(4), by an exception, or (wait) by the signal the test sends.

usage: exit_inflight.py exit|raise|wait"""

import sys
import time

import _outrun
import outrun

outrun.offload(time.sleep, 60)
while _outrun.pool_stats()["running"] == 0:
    time.sleep(0.01)
print("EXITING", flush=True)
if sys.argv[1] == "exit":
    sys.exit(4)
if sys.argv[1] == "raise":
    raise RuntimeError("the program failed")
# wait: the run waits for the offloaded call until a signal ends it.
