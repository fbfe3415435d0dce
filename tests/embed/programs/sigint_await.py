"""Waits at an await for Ctrl-C; its cleanup prints CLEANUP."""

# Top-level await: outrun run compiles the program to allow it.
# ruff: noqa: F704, PLE1142

import asyncio

try:
    print("READY", flush=True)
    await asyncio.sleep(60)
finally:
    print("CLEANUP", flush=True)
