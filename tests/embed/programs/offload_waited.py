"""The host waits for offloaded work and processes the program started,
and their results arrive as Outputs."""

import time

import outrun

slow = outrun.offload(lambda: (time.sleep(0.2), "offloaded")[1])
slow.apply(lambda v: print("OFFLOAD", v))
echo = outrun.process.run(["echo", "from a process"])
echo.apply(lambda r: print("PROCESS", r.stdout.strip(), r.returncode))
