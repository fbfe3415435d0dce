"""The stall watchdog under outrun up: a program that declares many
resources at its top level keeps the loop thread busy with the run's own
work, which is no stall; a blocking call among them is one, and is named."""

from __future__ import annotations

import pytest

from conftest import Project
from hostrun import SANITIZED

MANY = """
    from outrun.providers.random import RandomString

    for i in range(20000):
        RandomString(f"s{i}", length=8)
"""

SLEEPY = """
    import time
    from outrun.providers.random import RandomString

    RandomString("before", length=8)
    time.sleep(1.5)  # the stall
    RandomString("after", length=8)
"""


def test_declaring_many_resources_is_not_a_stall(project: Project) -> None:
    project.write(MANY)

    # 500 ms, not the default 200: a loaded machine can take 200 ms over a
    # chunk of the final commit (or a collection of the garbage
    # collector).  Without the beats, declaring 20,000 resources keeps the
    # loop thread from the watchdog for a second or more, so the test
    # still fails if they go.  A sanitizer build runs the host several
    # times slower, declaring included: 2 s there.
    threshold = "2000" if SANITIZED else "500"
    events, proc = project.events("up", "--stall-warning", threshold)

    assert events[-1]["counts"] == {"create": 20000}
    assert "stalled" not in proc.stderr and "stuck" not in proc.stderr, \
        proc.stderr


@pytest.mark.parametrize("args, warned", [
    ((), True),                        # named, at the default threshold
    (("--stall-warning", "0"), False),  # 0 turns the warning off
])
def test_a_blocking_call_among_resources(project: Project,
                                         args: tuple[str, ...],
                                         warned: bool) -> None:
    project.write(SLEEPY)

    events, proc = project.events("up", *args)

    assert events[-1]["counts"] == {"create": 2}
    if warned:
        assert "stalled once" in proc.stderr, proc.stderr
        assert "__main__.py:6" in proc.stderr, proc.stderr
    else:
        assert "stalled" not in proc.stderr \
            and "stuck" not in proc.stderr, proc.stderr
