"""The run display (outrun._engine.display): plain, json and live modes.

Every test counts (lines, writes, flushes, redraws, timers); none times.
The live view's timers run on a loop whose clock the test moves."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import time
import types
from typing import Any

import pytest
from outrun._engine import display as display_module
from outrun._engine.display import (
    JsonDisplay,
    LiveDisplay,
    PlainDisplay,
    format_duration,
    make_display,
)

TYPE = "random:index/randomString:RandomString"
ESC = "\x1b"
SGR = re.compile(r"\x1b\[[0-9;]*m")


class Stream(io.StringIO):
    """A pipe: counts writes and flushes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.flushes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


class Tty(Stream):
    """A terminal."""

    def isatty(self) -> bool:
        return True


class Step:
    def __init__(self, op: str, name: str, detail: str | None = None) -> None:
        self.urn = f"urn:pulumi:dev::web::{TYPE}::{name}"
        self.type = TYPE
        self.name = name
        self.op = op
        self.ok: bool | None = None
        self.error: str | None = None
        self.started = time.monotonic()
        self.elapsed: float | None = None
        self.detail = detail

    def done(self, elapsed: float = 0.01, error: str | None = None) -> Step:
        self.elapsed = elapsed
        self.ok = error is None
        self.error = error
        return self


def summary(kind: str = "up", **kw: Any) -> types.SimpleNamespace:
    values: dict[str, Any] = {
        "kind": kind, "stack": "dev", "project": "web",
        "result": "succeeded", "counts": {"create": 3, "update": 1, "same": 2},
        "duration": 1.23,
        "outputs": {"url": "http://example.com", "password": "[secret]"},
        "failures": [], "skipped": 0, "warnings": []}
    values.update(kw)
    return types.SimpleNamespace(**values)


@pytest.fixture(autouse=True)
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A colour terminal unless a test says otherwise."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("OUTRUN_LOG", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """shutil.get_terminal_size() returns [columns, lines] of this list."""
    size = [80, 20]
    monkeypatch.setattr(
        shutil, "get_terminal_size",
        lambda *a, **k: os.terminal_size(tuple(size)))
    return size


class Clock:
    """A loop whose time moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.loop = asyncio.new_event_loop()
        self.loop.time = lambda: self.now  # type: ignore[method-assign]

    async def turns(self, n: int = 3) -> None:
        for _ in range(n):
            await asyncio.sleep(0)

    def run(self, coro: Any) -> Any:
        try:
            return self.loop.run_until_complete(coro)
        finally:
            self.loop.close()


def run_up(disp: Any, failing: bool = True) -> None:
    disp.start()
    for op, name in [("create", "s1"), ("update", "s2"), ("replace", "s3"),
                     ("delete", "s4"), ("read", "s5")]:
        step = Step(op, name, detail="length" if op == "update" else None)
        disp.step_started(step)
        disp.step_finished(step.done())
    if failing:
        bad = Step("create", "bad")
        disp.step_started(bad)
        disp.step_finished(bad.done(0.2, "quota exceeded\ntraceback line"))
        disp.step_skipped(Step("create", "child"), "dependency bad failed")
    disp.same(Step("same", "same1"))
    disp.same(Step("same", "same2"))


# make_display ----------------------------------------------------------


def test_make_display_picks_the_mode() -> None:
    assert isinstance(make_display("up", "dev", "web", stream=Stream()),
                      PlainDisplay)
    assert isinstance(make_display("up", "dev", "web", stream=Tty()),
                      LiveDisplay)
    assert isinstance(make_display("up", "dev", "web", stream=Tty(),
                                   live=False), PlainDisplay)
    assert isinstance(make_display("up", "dev", "web", json_mode=True,
                                   stream=Tty(), live=True), JsonDisplay)
    assert make_display("up", "dev", "web", stream=Tty()).color
    assert not make_display("up", "dev", "web", stream=Stream()).color
    with pytest.raises(ValueError):
        make_display("upp", "dev", "web", stream=Stream())


def test_term_dumb_is_neither_live_nor_coloured(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    out = Tty()
    disp = make_display("up", "dev", "web", stream=out)
    assert isinstance(disp, PlainDisplay) and not disp.color
    run_up(disp)
    disp.diag("error", "bad thing")
    disp.finish(summary(result="failed", failures=[("bad", "quota")]))
    disp.close()
    assert "created" in out.getvalue()
    assert ESC not in out.getvalue()


# Plain -----------------------------------------------------------------


def test_plain_prints_one_line_per_event() -> None:
    out = Stream()
    disp = make_display("up", "dev", "web", stream=out)
    run_up(disp)
    lines = out.getvalue().splitlines()
    assert lines == [
        "Updating stack dev (project web)",
        f"  + create   {TYPE}  s1",
        f"  + created  {TYPE}  s1  (0.01s)",
        f"  ~ update   {TYPE}  s2  [length]",
        f"  ~ updated  {TYPE}  s2  (0.01s)",
        f" +- replace  {TYPE}  s3",
        f" +- replaced {TYPE}  s3  (0.01s)",
        f"  - delete   {TYPE}  s4",
        f"  - deleted  {TYPE}  s4  (0.01s)",
        f"  > read     {TYPE}  s5",
        f"  > read     {TYPE}  s5  (0.01s)",
        f"  + create   {TYPE}  bad",
        f"  ! failed   {TYPE}  bad: quota exceeded",
        f"  . skipped  {TYPE}  child: dependency bad failed",
    ]
    # One write per line; same() wrote nothing but was counted.
    assert out.writes == len(lines)
    assert disp.same_count == 2


def test_plain_same_prints_nothing() -> None:
    out = Stream()
    disp = make_display("up", "dev", "web", stream=out)
    disp.start()
    before = out.getvalue()
    for i in range(1000):
        disp.same(Step("same", f"r{i}"))
    assert out.getvalue() == before
    assert disp.same_count == 1000


def test_plain_flushes_only_at_the_end_on_a_pipe() -> None:
    out = Stream()
    disp = make_display("up", "dev", "web", stream=out)
    run_up(disp)
    flushes = out.flushes
    assert flushes <= 1          # the header
    disp.finish(summary())
    disp.close()
    assert out.flushes >= flushes + 1


def test_plain_flushes_every_line_on_a_tty() -> None:
    out = Tty()
    disp = make_display("up", "dev", "web", stream=out, live=False)
    disp.start()
    flushes = out.flushes
    for i in range(10):
        step = Step("create", f"r{i}")
        disp.step_started(step)
        disp.step_finished(step.done())
    assert out.flushes == flushes + 20


def test_plain_flush_timer_in_a_loop_is_coalesced() -> None:
    clock = Clock()
    out = Stream()
    disp = make_display("up", "dev", "web", stream=out)

    async def main() -> None:
        disp.start()
        flushes = out.flushes
        for i in range(1000):
            step = Step("create", f"r{i}")
            disp.step_started(step)
            disp.step_finished(step.done())
        assert disp.timers == 1
        await clock.turns()
        assert out.flushes == flushes      # the clock has not moved
        clock.now += 1
        await clock.turns()
        assert out.flushes == flushes + 1
        disp.step_started(Step("create", "late"))
        assert disp.timers == 2

    clock.run(main())
    disp.close()


def test_plain_preview_prints_planned_ops_once() -> None:
    out = Stream()
    disp = make_display("preview", "dev", "web", stream=out)
    disp.start()
    for op, name in [("create", "s1"), ("update", "s2"), ("delete", "s3")]:
        step = Step(op, name)
        disp.step_started(step)
        disp.step_finished(step.done(0.0))
    disp.finish(summary("preview", counts={"create": 1, "update": 1,
                                           "delete": 1, "same": 4}))
    text = out.getvalue()
    assert text.splitlines()[:4] == [
        "Previewing update of stack dev (project web)",
        f"  + create   {TYPE}  s1",
        f"  ~ update   {TYPE}  s2",
        f"  - delete   {TYPE}  s3",
    ]
    for words in ("+ 1 to create", "~ 1 to update", "- 1 to delete",
                  "4 unchanged"):
        assert words in text
    assert "created" not in text


def test_summary_counts_outputs_failures() -> None:
    out = Stream()
    disp = make_display("up", "dev", "web", stream=out)
    disp.start()
    disp.finish(summary(
        result="failed", counts={"create": 3, "update": 1, "replace": 2,
                                 "delete": 5, "same": 2},
        failures=[("urn:x::bad", "quota exceeded\nsecond line")],
        skipped=4, warnings=["old provider"]))
    disp.close()
    text = out.getvalue()
    expected = """
Resources:
    + 3 created
    ~ 1 updated
    +- 2 replaced
    - 5 deleted
    2 unchanged
Duration: 1.2s
Outputs:
    url: "http://example.com"
    password: [secret]
Warnings:
    old provider
Failures:
    urn:x::bad: quota exceeded
        second line
Skipped: 4 steps not run because a dependency failed
Update failed
"""
    assert text.endswith(expected)


def test_summary_without_changes() -> None:
    out = Stream()
    disp = make_display("destroy", "dev", "web", stream=out)
    disp.start()
    disp.finish(summary("destroy", counts={}, outputs={}))
    text = out.getvalue()
    assert text.startswith("Destroying stack dev (project web)\n")
    assert "    no changes\n" in text
    assert "Outputs" not in text and "failed" not in text


def test_diag_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Stream()
    disp = make_display("up", "dev", "web", stream=out)
    disp.diag("warning", "careful", urn=f"urn:pulumi:dev::web::{TYPE}::s1")
    disp.diag("error", "broken")
    disp.diag("info", "note")
    disp.diag("debug", "hidden")
    assert out.getvalue() == ("warning: s1: careful\nerror: broken\nnote\n")
    monkeypatch.setenv("OUTRUN_LOG", "debug")
    out = Stream()
    disp = make_display("up", "dev", "web", stream=out)
    disp.diag("debug", "shown")
    assert out.getvalue() == "debug: shown\n"


# Colour ----------------------------------------------------------------


def test_colours_on_a_tty() -> None:
    out = Tty()
    disp = make_display("up", "dev", "web", stream=out, live=False)
    run_up(disp)
    disp.diag("error", "broken")
    disp.finish(summary(result="failed", failures=[("bad", "quota")]))
    text = out.getvalue()
    assert "\x1b[32m+ create\x1b[0m" in text       # green
    assert "\x1b[33m~ update\x1b[0m" in text       # yellow
    assert "\x1b[35m+- replace\x1b[0m" in text     # magenta
    assert "\x1b[31m- delete\x1b[0m" in text       # red
    assert "\x1b[31m! failed\x1b[0m" in text
    assert "\x1b[31merror:\x1b[0m broken" in text
    assert "\x1b[2m2 unchanged\x1b[0m" in text     # dim
    # Without the escapes, the same text as a pipe gets.
    plain = Stream()
    run_up(make_display("up", "dev", "web", stream=plain))
    assert SGR.sub("", text).startswith(plain.getvalue())


@pytest.mark.parametrize("value", ["", "1"])
def test_no_color_means_no_escapes(monkeypatch: pytest.MonkeyPatch,
                                   terminal: list[int], value: str) -> None:
    monkeypatch.setenv("NO_COLOR", value)
    out = Tty()
    disp = make_display("up", "dev", "web", stream=out, live=False)
    assert not disp.color
    run_up(disp)
    disp.diag("error", "broken")
    disp.finish(summary(result="failed", failures=[("bad", "quota")]))
    disp.close()
    assert ESC not in out.getvalue()
    # The live view still moves the cursor, but paints nothing.
    out = Tty()
    disp = make_display("up", "dev", "web", stream=out)
    assert isinstance(disp, LiveDisplay) and not disp.color
    run_up(disp)
    disp.diag("error", "broken")
    disp.finish(summary(result="failed", failures=[("bad", "quota")]))
    disp.close()
    assert not SGR.findall(out.getvalue())


def test_explicit_color_wins_over_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "")
    out = Stream()
    disp = make_display("up", "dev", "web", stream=out, color=True)
    run_up(disp)
    assert "\x1b[32m" in out.getvalue()


# JSON ------------------------------------------------------------------

STEP_KEYS = {"event", "urn", "type", "name", "op", "status", "elapsed",
             "error", "detail"}


def test_json_lines_parse_and_carry_the_keys() -> None:
    out = Tty()
    disp = make_display("up", "dev", "web", json_mode=True, stream=out)
    run_up(disp)
    disp.diag("debug", "details")
    disp.diag("warning", "careful", urn="urn:x")
    disp.finish(summary(result="failed", failures=[("urn:bad", "quota")],
                        skipped=1, warnings=["careful"]))
    disp.close()
    text = out.getvalue()
    assert ESC not in text
    events = [json.loads(line) for line in text.splitlines()]
    # One flush per line at least.
    assert out.flushes >= len(events)
    assert events[0] == {"event": "start", "kind": "up", "stack": "dev",
                         "project": "web"}
    kinds = [e["event"] for e in events]
    assert kinds.count("step") == 12
    assert kinds.count("same") == 2
    assert kinds.count("skipped") == 1
    assert kinds.count("diag") == 2
    assert kinds[-1] == "summary"
    for event in events:
        if event["event"] in ("step", "same", "skipped"):
            assert STEP_KEYS <= set(event), event
    statuses = [e["status"] for e in events if e["event"] == "step"]
    assert statuses.count("started") == 6
    assert statuses.count("done") == 5
    assert statuses.count("failed") == 1
    failed = next(e for e in events if e.get("status") == "failed")
    assert failed["error"] == "quota exceeded\ntraceback line"
    assert failed["elapsed"] == 0.2
    skipped = next(e for e in events if e["event"] == "skipped")
    assert skipped["reason"] == "dependency bad failed"
    diag = next(e for e in events if e["event"] == "diag")
    assert diag == {"event": "diag", "level": "debug", "message": "details",
                    "urn": None}
    last = events[-1]
    assert {"counts", "duration", "outputs", "failures", "result",
            "skipped", "warnings"} <= set(last)
    assert last["counts"] == {"create": 3, "update": 1, "same": 2}
    assert last["outputs"]["password"] == "[secret]"
    assert last["failures"] == [{"urn": "urn:bad", "message": "quota"}]
    assert last["result"] == "failed"


def test_json_outputs_that_are_not_json() -> None:
    out = Stream()
    disp = make_display("up", "dev", "web", json_mode=True, stream=out)
    disp.finish(summary(outputs={"when": object(), "n": 3}))
    event = json.loads(out.getvalue())
    assert event["outputs"]["n"] == 3
    assert event["outputs"]["when"].startswith("<object")


# Live ------------------------------------------------------------------


def frames(text: str) -> list[list[str]]:
    """The blocks drawn: what follows each erase, up to the next."""
    blocks = []
    for chunk in text.split("\x1b[J")[1:]:
        # A block ends at its last newline, or at the summary's blank line.
        lines = chunk.split("\n")[:-1]
        if "" in lines:
            lines = lines[:lines.index("")]
        if lines:
            blocks.append(lines)
    return blocks


def visible(line: str) -> str:
    return SGR.sub("", line)


def test_live_block_fits_the_terminal(terminal: list[int]) -> None:
    clock = Clock()
    out = Tty()
    disp = make_display("up", "dev", "web", stream=out)
    steps = [Step("create", f"r{i}-" + "x" * 100) for i in range(1000)]

    async def main() -> None:
        disp.start()
        for step in steps:
            disp.step_started(step)
        await clock.turns()
        assert disp.redraws == 1
        for step in steps[:900]:
            disp.step_finished(step.done())
        clock.now += 1
        await clock.turns()
        assert disp.redraws == 2
        terminal[:] = [40, 6]
        disp.step_finished(steps[900].done())
        clock.now += 1
        await clock.turns()
        assert disp.redraws == 3

    clock.run(main())
    for step in steps[901:]:
        disp.step_finished(step.done())
    disp.finish(summary())
    disp.close()
    drawn = frames(out.getvalue())
    assert len(drawn) == 4
    # Each block fills the terminal but two lines (render's contract),
    # and no line reaches the last column.
    limits = [(80, 20), (80, 20), (40, 6), (40, 6)]
    assert [len(block) for block in drawn] == [
        lines - 2 for _, lines in limits]
    for block, (columns, _) in zip(drawn, limits):
        for line in block:
            assert len(visible(line)) <= columns - 1
    # 1,000 in flight: as many rows as fit, the rest counted.
    assert drawn[0][-2] == "  … 984 more in flight"  # 18 lines
    assert "1000 in flight" in drawn[0][-1]
    # 900 done, 100 in flight: all in-flight rows cannot fit either.
    assert "in flight" in drawn[1][-2]
    # At the end: the newest done rows and the older ones collapsed.
    assert re.search(r"… 99\d more done", drawn[3][0])
    assert "1000 done" in drawn[3][-1]
    # Each redraw first moves the cursor up over the previous block.
    assert out.getvalue().count("\r\x1b[18A\x1b[J") == 2


def test_live_one_redraw_per_burst(terminal: list[int]) -> None:
    clock = Clock()
    out = Tty()
    disp = make_display("up", "dev", "web", stream=out)

    async def main() -> None:
        disp.start()
        for i in range(1000):
            step = Step("create", f"r{i}")
            disp.step_started(step)
            disp.step_finished(step.done())
            disp.same(Step("same", f"s{i}"))
        assert (disp.timers, disp.redraws) == (1, 0)
        await clock.turns()
        assert (disp.timers, disp.redraws) == (1, 1)
        # Within 100 ms of that redraw: one more timer, held back.
        clock.now += 0.05
        for i in range(1000):
            disp.step_started(Step("update", f"u{i}"))
        assert disp.timers == 2
        await clock.turns(5)
        assert disp.redraws == 1
        clock.now += 0.05
        await clock.turns()
        assert disp.redraws == 2
        # Nothing changed since: no timer, no redraw.
        clock.now += 1
        await clock.turns()
        assert (disp.timers, disp.redraws) == (2, 2)

    clock.run(main())
    disp.close()


def test_live_without_a_loop_draws_on_finish(terminal: list[int]) -> None:
    terminal[0] = 200
    out = Tty()
    disp = make_display("up", "dev", "web", stream=out)
    run_up(disp)
    assert (disp.timers, disp.redraws) == (0, 0)
    disp.finish(summary())
    assert disp.redraws == 1
    text = out.getvalue()
    assert text.startswith("\x1b[?25lUpdating stack dev (project web)\n")
    assert "Resources:" in text and "password: [secret]" in text
    assert text.count("\x1b[?25h") == 1
    disp.close()
    disp.close()
    assert out.getvalue().count("\x1b[?25h") == 1
    block = frames(text)[0]
    assert any("failed: quota exceeded" in visible(r) for r in block)
    assert any("skipped: dependency bad failed" in visible(r) for r in block)
    assert "2 unchanged" in block[-1]


def test_live_rows_and_colours(terminal: list[int]) -> None:
    clock = Clock()
    out = Tty()
    disp = make_display("up", "dev", "web", stream=out)

    async def main() -> None:
        disp.start()
        disp.step_started(Step("create", "a"))
        disp.step_started(Step("delete", "b"))
        await clock.turns()

    clock.run(main())
    disp.close()
    block = frames(out.getvalue())[0]
    assert visible(block[0]).startswith(f"  + create   {TYPE}  a  creating  ")
    assert visible(block[1]).startswith(f"  - delete   {TYPE}  b  deleting  ")
    assert block[0].startswith("  \x1b[32m+ create\x1b[0m")
    assert block[1].startswith("  \x1b[31m- delete\x1b[0m")
    assert out.getvalue().endswith("\x1b[?25h")


def test_live_diag_goes_above_the_block(terminal: list[int]) -> None:
    clock = Clock()
    out = Tty()
    disp = make_display("up", "dev", "web", stream=out)

    async def main() -> None:
        disp.start()
        disp.step_started(Step("create", "a"))
        await clock.turns()
        disp.diag("warning", "careful")
        clock.now += 1
        await clock.turns()

    clock.run(main())
    disp.close()
    text = out.getvalue()
    # Erase the 2-line block, the warning, then the block again.
    assert "\r\x1b[2A\x1b[J\x1b[33mwarning:\x1b[0m careful\n\x1b[J" in text
    assert disp.redraws == 2


def test_format_duration() -> None:
    assert format_duration(0.012) == "0.01s"
    assert format_duration(1.23) == "1.2s"
    assert format_duration(123) == "2m03s"
    assert format_duration(3723) == "1h02m03s"


def test_recent_rows_are_bounded() -> None:
    out = Tty()
    disp = make_display("up", "dev", "web", stream=out)
    for i in range(5000):
        step = Step("create", f"r{i}")
        disp.step_started(step)
        disp.step_finished(step.done())
    assert len(disp._recent) == display_module.RECENT_MAX
    assert not disp._inflight
