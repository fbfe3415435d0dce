"""An outrun.run(main) program, the same under outrun run and python3.
With an argument N, main ends with sys.exit(N)."""

import asyncio
import sys

import outrun


async def main():
    for _ in range(3):
        await asyncio.sleep(0)
    print("main finished", flush=True)
    if len(sys.argv) > 1:
        sys.exit(int(sys.argv[1]))
    return "main's result"


outrun.run(main)
