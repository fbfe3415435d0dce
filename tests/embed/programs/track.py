"""Tracks work at the top level and ends the top level first.  With the
argument 'fail', also tracks work that fails."""

import asyncio
import sys

import outrun


async def later():
    for _ in range(3):
        await asyncio.sleep(0)
    print("tracked work finished", flush=True)


async def failing():
    await asyncio.sleep(0)
    raise KeyError("tracked work failed on purpose")


outrun.track(later())
if sys.argv[1:] == ["fail"]:
    outrun.track(failing())
print("top level finished", flush=True)
