"""A stall inside outrun.offload itself.  Submitting never blocks, so the
stall is made: the module the SDK calls into is swapped for one whose
offload is time.sleep (native, no frame of its own), as if the SDK's own
work took that long."""

import time
import types

import outrun
import outrun._offload

outrun._offload._outrun = types.SimpleNamespace(offload=time.sleep)
outrun.offload(1.5)  # stall: offload
print("after the stall")
