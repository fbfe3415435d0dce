"""Blocks the loop at the top level with time.sleep, then says so on
stderr (after the stall, so the warning must come first)."""

import sys
import time

time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 1.5)  # stall: sleep
print("after the stall", file=sys.stderr, flush=True)
