"""Waits for a line on stdin through an Output; prints READY first."""

import asyncio
import sys

from outrun import Output

loop = asyncio.get_running_loop()
line = Output.from_input(loop.run_in_executor(None, sys.stdin.readline))
line.apply(lambda text: print("DONE", text.strip(), flush=True))  # waits
print("READY", flush=True)
