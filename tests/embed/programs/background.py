"""Leaves background work running that nothing waits for."""

# Top-level await: outrun run compiles the program to allow it.
# ruff: noqa: F704, PLE1142

import asyncio


async def forever():
    try:
        await asyncio.sleep(3600)
    finally:
        print("background cleanup", flush=True)


asyncio.ensure_future(asyncio.sleep(3600))
asyncio.ensure_future(forever())
await asyncio.sleep(0)
print("top level finished", flush=True)
