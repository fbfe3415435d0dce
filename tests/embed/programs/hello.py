"""Reports what a program sees at its top level, as one JSON line."""

# Top-level await: outrun run compiles the program to allow it.
# ruff: noqa: F704, PLE1142

import asyncio
import json
import sys

loop = asyncio.get_running_loop()
await asyncio.sleep(0)
print(json.dumps({
    "argv": sys.argv,
    "name": __name__,
    "file": __file__,
    "loop": f"{type(loop).__module__}.{type(loop).__qualname__}",
    "in_task": asyncio.current_task() is not None,
}))
