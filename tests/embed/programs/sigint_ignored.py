"""Prints READY, then waits for a line on stdin and echoes it."""

# Top-level await: outrun run compiles the program to allow it.
# ruff: noqa: F704, PLE1142

import asyncio
import sys

print("READY", flush=True)
line = await asyncio.get_running_loop().run_in_executor(None,
                                                        sys.stdin.readline)
print("got", line.strip(), flush=True)
