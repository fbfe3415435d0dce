"""An apply whose result nothing uses fails (the argument says how), or a
failure is recovered."""

import asyncio
import sys

from outrun import Output


def explode(value):
    raise ValueError(f"explode failed on {value}")


async def failing_input():
    await asyncio.sleep(0)
    raise LookupError("the awaited input failed")


source = Output.from_input(1)
mode = sys.argv[1]
if mode == "function":
    source.apply(explode)
elif mode == "lambda":
    source.apply(lambda v: {}["missing key"])
elif mode == "chain":
    source.apply(str).apply(explode).apply(len)
elif mode == "awaited":
    Output.from_input({"a": failing_input()})
elif mode == "recover":
    source.apply(explode).recover(
        lambda exc: print("recovered:", exc, flush=True))
print("top level finished", flush=True)
