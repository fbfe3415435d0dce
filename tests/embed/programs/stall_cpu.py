"""Keeps the loop thread computing for 1.5 s inside a function that the
program's main coroutine calls."""

# ruff: noqa: F704, PLE1142

import time


def crunch(seconds: float) -> int:
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:  # stall: cpu loop
        n += 1  # stall: cpu body
    return n


async def main() -> None:
    crunch(1.5)


await main()
