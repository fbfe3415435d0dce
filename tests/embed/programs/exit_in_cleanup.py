"""A background task's cleanup, run when it is cancelled at exit, calls
sys.exit(4)."""

# Top-level await: outrun run compiles the program to allow it.
# ruff: noqa: F704, PLE1142

import asyncio
import sys


async def forever():
    try:
        await asyncio.sleep(3600)
    finally:
        sys.exit(4)


asyncio.ensure_future(forever())
await asyncio.sleep(0)
print("top level finished", flush=True)
