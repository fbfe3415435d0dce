"""The smallest Outrun program: it prints and exits."""

import asyncio
import sys

import outrun

loop = asyncio.get_running_loop()
print(f"Hello from Outrun {outrun.__version__}!")
print(f"The top level runs inside a coroutine on {type(loop).__name__}, "
      f"an event loop the host owns.")
print(f"sys.argv = {sys.argv!r}")
