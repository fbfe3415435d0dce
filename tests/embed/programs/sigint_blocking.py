"""Waits for Ctrl-C in a blocking call at the top level."""

import time

try:
    print("READY", flush=True)
    time.sleep(60)
finally:
    print("CLEANUP", flush=True)
