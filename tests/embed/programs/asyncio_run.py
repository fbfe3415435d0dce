"""Misuses asyncio.run inside the host, which already runs a loop."""

import asyncio


async def main():
    print("main must not run")


asyncio.run(main())
