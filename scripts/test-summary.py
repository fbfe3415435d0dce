"""Prints the closing line of one or more `meson test` runs from their JSON
logs: 'tests: N passed, N failed' (and skipped when there are any), summed
over every log given, counting the test cases inside each suite where the
runner reports them.

A test whose cases all passed but which failed as a whole (valgrind's or
LeakSanitizer's exit code after the last case, a crash at exit, a timeout)
counts one failure more, so that the line never says 0 failed for a run
that failed.  A log that is missing or empty (that run never started: a
failed install or build) counts as one failure too.

usage: test-summary.py TESTLOG.json [TESTLOG.json ...]"""

import json
import re
import sys

CHECK = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")
PYTEST = re.compile(r"^=*\s*(.*\d+ (?:passed|failed|error).*) in [\d.]+s",
                    re.M)


def count_test(t):
    """(passed, failed, skipped) for one test of a log."""
    out = t.get("stdout") or ""
    ok = t.get("result") in ("OK", "EXPECTEDFAIL")
    # Check: "100%: Checks: 12, Failures: 0, Errors: 0"
    m = CHECK.findall(out)
    if m:
        n, fl, er = map(int, m[-1])
        extra = 0 if ok or fl + er else 1
        return n - fl - er, fl + er + extra, 0
    # pytest: "12 passed, 1 skipped in 0.3s"
    m = PYTEST.findall(out)
    if m:
        summary = m[-1]
        passed = failed = skipped = 0
        for count, word in re.findall(r"(\d+) (passed|failed|errors?|skipped)",
                                      summary):
            if word == "passed":
                passed += int(count)
            elif word == "skipped":
                skipped += int(count)
            else:
                failed += int(count)
        if not ok and "failed" not in summary and "error" not in summary:
            failed += 1
        return passed, failed, skipped
    if t.get("result") == "SKIP":
        return 0, 0, 1
    return (1, 0, 0) if ok else (0, 1, 0)


def main(paths):
    passed = failed = skipped = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                tests = [json.loads(line) for line in f if line.strip()]
        except OSError as exc:
            print(f"test-summary: no test log at {path} ({exc.strerror}); "
                  "counted as one failure", file=sys.stderr, flush=True)
            tests = None
        if tests == []:
            print(f"test-summary: the test log at {path} is empty; counted "
                  "as one failure", file=sys.stderr, flush=True)
        if not tests:
            failed += 1
            continue
        for t in tests:
            p, f, s = count_test(t)
            passed += p
            failed += f
            skipped += s
    line = f"tests: {passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
