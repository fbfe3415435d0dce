"""Lets N finished offloads pile up in the loop's completion channel (the
loop thread waits, blocking, until the pool has finished them all), then
settles them, and prints the most jobs one loop callback settled."""

import sys
import time

import _outrun
import outrun

n = int(sys.argv[1])
calls = [outrun.offload(int, i) for i in range(n)]
deadline = time.monotonic() + 60
while _outrun.pool_stats()["completed"] < n and time.monotonic() < deadline:
    time.sleep(0.01)
values = await outrun.Output.all(*calls).future()
print(f"ok {sum(1 for i, v in enumerate(values) if v == i)}")
print(f"drain_batch_peak {_outrun.pool_stats()['drain_batch_peak']}")
