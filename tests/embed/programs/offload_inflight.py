"""Native work still in flight when the run ends: a Python callable that
blocks for a minute and a subprocess that sleeps for a minute.  Neither
Ctrl-C nor sys.exit() may wait for them.

usage: offload_inflight.py wait|exit PIDFILE"""

import sys
import time

import outrun

mode, pidfile = sys.argv[1], sys.argv[2]


def report_pid(stream, line):
    with open(pidfile, "w") as f:
        f.write(line)
    print("READY", flush=True)


# The child prints its pid, then becomes `sleep 60` in the same group.
outrun.process.run("echo $$; exec sleep 60", shell=True,
                   on_output=report_pid)
outrun.offload(time.sleep, 60)
if mode == "exit":
    sys.exit(0)
