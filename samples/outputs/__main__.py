"""Outputs, as in the document Outrun grew from: blocking and async work
both become Outputs through Output.from_input, and apply, concat, format
and all connect them without ever blocking the loop.
"""

import asyncio
import shlex
import subprocess

from outrun import Output


def blocking_operation(word: str) -> str:
    """Blocking work: a subprocess, run on another thread."""
    res = subprocess.run(["echo", word], capture_output=True, text=True,
                         check=True)
    return res.stdout.strip()


async def async_operation(word: str) -> str:
    """The same work written with asyncio."""
    proc = await asyncio.create_subprocess_shell(
        f"echo {shlex.quote(word)}", stdout=asyncio.subprocess.PIPE)
    stdout, _ = await proc.communicate()
    return stdout.decode().strip()


from_thread = Output.from_input(asyncio.to_thread(blocking_operation, "blocking"))
from_coroutine = Output.from_input(async_operation("async"))

greeting = Output.concat("hello from ", from_thread, " and ", from_coroutine)
summary = Output.format("{} words, {n} characters",
                        greeting.apply(lambda s: len(s.split())),
                        n=greeting.apply(len))
password = Output.secret("hunter2")
both = Output.all(greeting=greeting, summary=summary, password=password)

# Nothing above waited: every apply runs once its inputs are there.
greeting.apply(print)
summary.apply(print)
both.apply(lambda d: print("keys:", sorted(d)))
both.is_secret().add_done_callback(
    lambda f: print("secret because of the password:", f.result()))
