"""Waits for Ctrl-C in work handed to the SDK: outrun.run(main) with the
argument 'run'; outrun.track(main()) with 'track', after which the top
level ends and the host waits for the tracked work."""

import asyncio
import sys

import outrun


async def main():
    try:
        print("READY", flush=True)
        await asyncio.sleep(60)
    finally:
        print("CLEANUP", flush=True)


if sys.argv[1] == "track":
    outrun.track(main())
else:
    outrun.run(main)
