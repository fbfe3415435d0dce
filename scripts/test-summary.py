"""Prints the closing line of a `meson test` run from its JSON log:
'tests: N passed, N failed' (and skipped when there are any), counting the
test cases inside each suite where the runner reports them."""

import json
import re
import sys

path = sys.argv[1]
passed = failed = skipped = 0
with open(path, encoding="utf-8") as f:
    for line in f:
        if not line.strip():
            continue
        t = json.loads(line)
        out = t.get("stdout") or ""
        ok = t.get("result") in ("OK", "EXPECTEDFAIL")
        # Check: "100%: Checks: 12, Failures: 0, Errors: 0"
        m = re.findall(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", out)
        if m:
            n, fl, er = map(int, m[-1])
            passed += n - fl - er
            failed += fl + er
            continue
        # pytest: "12 passed, 1 skipped in 0.3s"
        m = re.findall(r"^=*\s*(.*\d+ (?:passed|failed|error).*) in [\d.]+s", out, re.M)
        if m:
            summary = m[-1]
            for count, word in re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary):
                if word == "passed":
                    passed += int(count)
                elif word == "skipped":
                    skipped += int(count)
                else:
                    failed += int(count)
            if not ok and "failed" not in summary and "error" not in summary:
                failed += 1
            continue
        if t.get("result") == "SKIP":
            skipped += 1
        elif ok:
            passed += 1
        else:
            failed += 1
line = f"tests: {passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
