"""Leaves Outputs pending when the top level ends: one of an awaitable
that sleeps, one made inside an apply, and an unrelated task that runs for
an hour, which the host must not wait for."""

import asyncio

from outrun import Output


async def slow(value):
    for _ in range(5):
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    return value


async def unrelated():
    await asyncio.sleep(3600)
    print("unrelated task finished", flush=True)


def then(value):
    print("applied", value, flush=True)
    Output.from_input(slow(value + "!")).apply(
        lambda v: print("nested applied", v, flush=True))


asyncio.ensure_future(unrelated())
Output.from_input(slow("value")).apply(then)
print("top level finished", flush=True)
