"""Blocking work without blocking the loop, Outrun's way: the seed
document's two patterns (a subprocess, and a slow blocking function) with
outrun.process.run and outrun.offload instead of asyncio.to_thread.

Three "slow lookups" of 0.3 s each run side by side on native threads, so
the whole program takes about 0.3 s, not 0.9 s.
"""

import time

import outrun
from outrun import Output


@outrun.blocking
def slow_lookup(name: str) -> str:
    """A blocking call (think requests.get or a vendor SDK)."""
    time.sleep(0.3)
    return f"{name}.internal"


started = time.monotonic()
hosts = Output.all(*(slow_lookup(n) for n in ("db", "cache", "queue")))

# A command, run by native code without the GIL.
version = outrun.process.run(["uname", "-s"]).apply(lambda r: r.stdout.strip())

Output.all(hosts, version).apply(lambda v: print(
    f"hosts {v[0]} on {v[1]}, after {time.monotonic() - started:.1f} s"))
