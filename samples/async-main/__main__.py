"""An async program: hand `async def main()` to outrun.run().

Under `outrun run` the host runs main on the loop it owns; under plain
`python3` (with outrun installed) outrun.run works like asyncio.run.
"""

import asyncio

import outrun


async def fetch(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"{name} after {delay:.2f}s"


async def main() -> None:
    # Three waits that overlap: the whole run takes as long as the longest.
    results = await asyncio.gather(
        fetch("first", 0.03), fetch("second", 0.02), fetch("third", 0.01))
    for line in results:
        print(line)


outrun.run(main)
