"""Cleanup that itself waits long after Ctrl-C: only a second Ctrl-C ends
it."""

# Top-level await: outrun run compiles the program to allow it.
# ruff: noqa: F704, PLE1142

import asyncio

try:
    print("READY", flush=True)
    await asyncio.sleep(60)
finally:
    print("CLEANUP-START", flush=True)
    await asyncio.sleep(60)
    print("CLEANUP-END", flush=True)
