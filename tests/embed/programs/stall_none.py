"""Waits without blocking the loop: no stall."""

# ruff: noqa: F704, PLE1142

import asyncio

await asyncio.sleep(0.6)
print("done")
