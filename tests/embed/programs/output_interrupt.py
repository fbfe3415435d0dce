"""An apply's function is where the program is when it ends: with
'sigint' it blocks (prints READY and sleeps a minute) until Ctrl-C; with
'exit' it calls sys.exit(7)."""

import sys
import time

from outrun import Output


def blocking(value):
    try:
        print("READY", flush=True)
        time.sleep(60)
    finally:
        print("CLEANUP", flush=True)


if sys.argv[1] == "sigint":
    Output.from_input(1).apply(blocking)
else:
    Output.from_input(1).apply(lambda v: sys.exit(7))
print("top level finished", flush=True)
