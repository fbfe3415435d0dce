"""Ctrl-C, or sys.exit(), inside a process's on_output callback, which the
native side calls on the loop thread: either must end the run, as from any
other callback on the loop, and the process must not outlive it.

usage: sigint_on_output.py interrupt|exit PIDFILE"""

import sys

import outrun

mode, pidfile = sys.argv[1], sys.argv[2]


def on_output(stream, line):
    with open(pidfile, "w") as f:
        f.write(line)
    if mode == "exit":
        sys.exit(3)
    print("READY", flush=True)
    # Busy in the program's own code until Ctrl-C lands here.
    while True:
        pass


# The child prints its pid, then becomes `sleep 60` in the same group.
outrun.process.run("echo $$; exec sleep 60", shell=True, on_output=on_output)
