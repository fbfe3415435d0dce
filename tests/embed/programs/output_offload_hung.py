# outrun run --debug-pending: offloaded calls that never return are named
# by the program's lines that submitted them, not by the SDK's wrappers.
import threading

import outrun

gate = threading.Event()


@outrun.blocking
def wait_for_gate() -> bool:
    return gate.wait()


hung = outrun.offload(gate.wait)  # the offload
decorated = wait_for_gate()  # the blocking call
print("top level finished", flush=True)
