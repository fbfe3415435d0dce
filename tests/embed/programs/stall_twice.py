"""Two stalls with the loop running in between, then exits with the code
in argv[1] (0 by default), or raises when it is 'raise'."""

# ruff: noqa: F704, PLE1142

import asyncio
import sys
import time

time.sleep(1.5)  # stall: first
await asyncio.sleep(0.1)
time.sleep(1.5)  # stall: second
if sys.argv[1:] == ["raise"]:
    raise RuntimeError("failed after stalling")
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
