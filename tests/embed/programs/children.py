"""Starts three `sleep 60` children with outrun.process.run, writes their
pids to PIDFILE, prints READY and waits for a signal.

usage: children.py PIDFILE"""

# ruff: noqa: F704, PLE1142

import asyncio
import sys

import outrun

pids = []


def started(stream, line):
    pids.append(line)


for _ in range(3):
    # The shell prints its pid, then becomes sleep in the same group.
    outrun.process.run("echo $$; exec sleep 60", shell=True,
                       on_output=started)
while len(pids) < 3:
    await asyncio.sleep(0.01)
with open(sys.argv[1], "w") as f:
    f.write("\n".join(pids))
print("READY", flush=True)
await asyncio.sleep(60)
