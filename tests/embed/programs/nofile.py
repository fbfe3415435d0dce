"""Starts N processes at once, under the soft RLIMIT_NOFILE the test set
(fewer descriptors than the pool's threads need to start them all at
once), and counts how many succeeded and how many failed, by error."""

import asyncio
import collections
import sys

import outrun

n = int(sys.argv[1])
calls = []
raised = collections.Counter()
for _ in range(n):
    try:
        calls.append(outrun.process.run(["true"]))
    except OSError as exc:
        raised[exc.errno] += 1
results = await asyncio.gather(*(c.future() for c in calls),
                               return_exceptions=True)
ok = sum(1 for r in results if getattr(r, "returncode", None) == 0)
failed = collections.Counter(getattr(r, "errno", None) or type(r).__name__
                             for r in results
                             if getattr(r, "returncode", None) != 0)
print(f"ok {ok}")
print(f"raised {dict(raised)}")
print(f"failed {dict(failed)}")
