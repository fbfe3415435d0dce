"""Leaves a deferred Output that is never resolved, with an apply on it;
with the argument 'cycle', resolves it with an Output derived from
itself."""

import sys

from outrun import deferred_output

out, resolve = deferred_output()  # the deferred Output
applied = out.apply(lambda v: print("never", v))  # the apply
if sys.argv[1:] == ["cycle"]:
    resolve(out.apply(lambda v: v))  # the cycle
print("top level finished", flush=True)
