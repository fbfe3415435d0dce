"""Blocks the loop in a task that waits for a child process with
subprocess.run."""

# The blocking call is the point.
# ruff: noqa: ASYNC221

import subprocess

import outrun


async def deploy() -> None:
    subprocess.run(["sleep", "1.5"], check=True)  # stall: subprocess


outrun.run(deploy)
