"""Fails in an async function awaited at the top level, through asyncio's
own code (wait_for), whose frames the report must leave out."""

# Top-level await: outrun run compiles the program to allow it.
# ruff: noqa: F704, PLE1142

import asyncio


async def step():
    await asyncio.sleep(0)
    raise LookupError("the async step failed on purpose")


await asyncio.wait_for(step(), timeout=600)
