"""The top level ends; a background task's cleanup, run when the host
cancels it at exit, waits long."""

# Top-level await: outrun run compiles the program to allow it.
# ruff: noqa: F704, PLE1142

import asyncio


async def forever():
    try:
        await asyncio.sleep(3600)
    finally:
        print("CLEANUP-START", flush=True)
        await asyncio.sleep(60)


asyncio.ensure_future(forever())
await asyncio.sleep(0)
print("top level finished", flush=True)
