"""What a run shows while it works: a live view on a terminal, plain
one-line events otherwise, or JSON events (``--json``).

CONTRACT (the engine codes against exactly this; keep it):

    disp = make_display(kind, stack, project, json_mode=False,
                        stream=None, color=None, live=None)
        kind: "preview" | "up" | "destroy"      (ValueError otherwise)
        stream: default sys.stdout
        live: default stream.isatty() and not json_mode and TERM != "dumb"
        color: default (live or stream.isatty()) and TERM != "dumb" and
               "NO_COLOR" not in the environment
               (NO_COLOR set to anything, even empty, turns colour off).
               An explicit color=True/False wins over the environment
               (for a --color option).  json_mode is never coloured and
               never live: json_mode wins over live=True.

    disp.start()                         # once, before any step
    disp.step_started(step)              # a provider operation begins
    disp.step_finished(step)             # it ended (step.ok / step.error set)
    disp.step_skipped(step, reason)      # not run because a dependency failed
    disp.same(step)                      # an unchanged resource (counted; the
                                         # plain mode prints nothing for it,
                                         # json prints an event)
    disp.diag(level, message, urn=None)  # level: "debug" | "info" | "warning" | "error"
    disp.finish(summary)                 # once, at the end
    disp.close()                         # stops the live view's timer, restores the
                                         # cursor, flushes; idempotent, safe without
                                         # finish() (call it in a finally)
    disp.on_lost(callback)               # callback(exc) once, when the stream
                                         # first fails to take a write or flush
    disp.lost                            # that exception, or None

No method ever raises because the stream cannot be written (a closed
pipe, a full disk, a file size limit, a hung-up terminal): the first
failure makes the display lost (its descriptor then points at /dev/null,
so the interpreter's last flush cannot fail either), every later write
does nothing, and the engine, told through on_lost, stops the run as a
first Ctrl-C does.

`step` is any object with the attributes
    urn: str, type: str, name: str,
    op: "create" | "update" | "replace" | "delete" | "same" | "read"
    ok: bool | None, error: str | None, started: float (time.monotonic()),
    elapsed: float | None (seconds, set when finished),
    detail: str | None (e.g. the changed keys "length, special")
In preview the op names are the planned ones and step_started/finished
come in pairs with elapsed ~ 0.  A finished step failed when step.error
is not None or step.ok is False.  The live view keys steps in flight by
id(step): step_finished must get the object step_started got.

`summary` is any object with
    kind, stack, project, result: "succeeded" | "failed" | "interrupted",
    counts: dict[op, int]           (ops that happened, incl. "same")
    duration: float (seconds)
    outputs: dict[str, Any]          (stack outputs, secrets already replaced by "[secret]")
    failures: list[tuple[str, str]]  ((urn or name, message) of each failed step)
    skipped: int
    warnings: list[str]

Plain mode: one line per event, one write() per line; flushed per line
only when the stream is a tty, otherwise at most every 100 ms from
loop.call_later while a loop runs (so a CI log shows a slow step's
"create" line promptly) and at finish()/close().  An up/destroy:
    Updating stack dev (project web)
      + create   random:index/randomString:RandomString  s1
      + created  random:index/randomString:RandomString  s1  (0.01s)
      ~ update   TYPE  NAME  [length, special]        (detail, when set)
     +- replace  TYPE  NAME   (the symbol column is 2 wide, right-aligned)
      - delete   TYPE  NAME
      > read     TYPE  NAME
      ! failed   TYPE  NAME: first line of the message
      . skipped  TYPE  NAME: reason
A preview prints one line per step, at step_finished, with the planned op
("  + create   TYPE  NAME"); its header is "Previewing update of stack dev
(project web)", a destroy's "Destroying stack dev (project web)".
same() prints nothing.  diag() prints "warning: message",
"error: message", "info" messages bare, "debug: message" only when
OUTRUN_LOG=debug; with a urn the resource's name comes first
("warning: s1: message").  Then the summary (format_summary()):

    Resources:
        + 3 created                     (preview: "+ 3 to create")
        ~ 1 updated
        2 unchanged
    Duration: 1.2s
    Outputs:
        url: "http://..."               (JSON-formatted values;
        password: [secret]               "[secret]" printed as given)
    Warnings:
        ...
    Failures:
        urn: message
    Skipped: 2 steps not run because a dependency failed
    Update failed                       (only when result != "succeeded")

JSON: one object per line (flushed like the plain lines: at once on a
terminal, otherwise within 100 ms and at the end):
    {"event": "start", "kind", "stack", "project"}
    {"event": "step", "urn", "type", "name", "op", "status", "elapsed",
     "error", "detail"}   status: "started" | "done" | "failed"
    {"event": "skipped", ...the step keys, "status": "skipped", "reason"}
    {"event": "same", ...the step keys, "status": "same"}
    {"event": "diag", "level", "message", "urn"}   (debug included)
    {"event": "summary", "kind", "stack", "project", "result", "counts",
     "duration", "outputs", "failures": [{"urn", "message"}], "skipped",
     "warnings"}

The live view redraws at most 10 times a second from loop.call_later (no
threads; without a running loop it draws on finish() only): the header
line once, then a block redrawn in place (cursor up + erase to the end of
the screen): one row per step in flight or recently finished
("  + create   TYPE  NAME  creating  1.2s"), at most terminal height - 2
lines and terminal width - 1 columns (older finished rows collapse into
"  … 812 more done", in-flight ones past the height into "… N more in
flight"), and a status line with the counts.  Per event it does O(1)
work.  finish() draws the last block and prints the summary below it.
The cursor is hidden while the view runs and shown again by finish() and
close().  Colour: green create, yellow update, magenta replace, red
delete and failures, dim unchanged and skipped.  NO_COLOR turns off the
colours, not the cursor movement of the live view (pass live=False, or
TERM=dumb, for no escape codes at all).

Counters the tests read (they count, never time): PlainDisplay.same_count
and .timers (flush timers scheduled), LiveDisplay.redraws (blocks drawn)
and .timers (redraw timers scheduled).

Secrets: the engine passes only names, types, ops and messages, and
every write masks the plaintext of each secret the run knows as
"[secret]" (outrun._secrets; in the live view, before a row is
clipped, so that no piece of one shows).
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from outrun import _secrets

__all__ = [
    "Display",
    "JsonDisplay",
    "LiveDisplay",
    "PlainDisplay",
    "format_duration",
    "format_summary",
    "make_display",
]

#: Seconds between two redraws of the live view, and between a plain-mode
#: write and the flush that follows it (non-tty streams).
REDRAW_INTERVAL = 0.1
FLUSH_INTERVAL = 0.1
#: Finished steps the live view keeps for its rows: more than any
#: terminal is tall, so the bound never shows.
RECENT_MAX = 256

_KINDS = ("preview", "up", "destroy")
_HEADER = {
    "preview": "Previewing update of stack {stack} (project {project})",
    "up": "Updating stack {stack} (project {project})",
    "destroy": "Destroying stack {stack} (project {project})",
}
_NOUN = {"preview": "Preview", "up": "Update", "destroy": "Destroy"}

_SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-",
           "read": ">", "same": "="}
_ACTIVE = {"create": "creating", "update": "updating",
           "replace": "replacing", "delete": "deleting", "read": "reading",
           "same": "checking"}
_DONE = {"create": "created", "update": "updated", "replace": "replaced",
         "delete": "deleted", "read": "read", "same": "unchanged"}
_PLANNED = {"create": "to create", "update": "to update",
            "replace": "to replace", "delete": "to delete",
            "read": "to read", "same": "unchanged"}
_SUMMARY_ORDER = ("create", "update", "replace", "delete", "read")

# SGR parameters.
_GREEN, _YELLOW, _MAGENTA, _RED, _CYAN, _DIM = "32", "33", "35", "31", "36", "2"
_OP_COLOR = {"create": _GREEN, "update": _YELLOW, "replace": _MAGENTA,
             "delete": _RED, "read": _CYAN, "same": _DIM}
_DIAG_COLOR = {"error": _RED, "warning": _YELLOW, "debug": _DIM}

_HIDE_CURSOR = "\x1b[?25l"
_SHOW_CURSOR = "\x1b[?25h"
_ERASE_DOWN = "\x1b[J"

_VERB_WIDTH = 8  # "replaced"


def format_duration(seconds: float) -> str:
    """0.01s, 1.2s, 2m03s, 1h02m03s."""
    if seconds < 1:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _painter(color: bool) -> Callable[[str, str], str]:
    if not color:
        return lambda text, code: text
    return lambda text, code: f"\x1b[{code}m{text}\x1b[0m"


def _first_line(message: str | None) -> str:
    return (message or "").partition("\n")[0]


def _urn_name(urn: str) -> str:
    """The resource's name: the last "::" part of a urn."""
    return urn.rpartition("::")[2]


_json_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

try:
    import orjson as _orjson
except ImportError:  # the standard library's, a few times slower
    _orjson = None  # type: ignore[assignment]


def _json_line(event: dict[str, Any]) -> str:
    """One event as a line of JSON (orjson's when it is there: a run of
    100,000 steps writes 100,000 of these)."""
    if _orjson is not None:
        try:
            return _orjson.dumps(event, default=str,
                                 option=_orjson.OPT_APPEND_NEWLINE).decode()
        except TypeError:
            pass
    return _json_encode(event) + "\n"


def _format_value(value: Any) -> str:
    if value == "[secret]":
        return "[secret]"
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def format_summary(summary: Any, color: bool = False) -> str:
    """The summary as printed by the plain and live modes, lines ending
    in newlines."""
    paint = _painter(color)
    preview = summary.kind == "preview"
    words = _PLANNED if preview else _DONE
    counts = summary.counts or {}
    lines = ["Resources:"]
    for op in _SUMMARY_ORDER:
        n = counts.get(op)
        if n:
            lines.append("    " + paint(f"{_SYMBOL[op]} {n} {words[op]}",
                                        _OP_COLOR[op]))
    for op, n in counts.items():
        if n and op not in _SUMMARY_ORDER and op != "same":
            lines.append(f"    {n} {op}")
    if counts.get("same"):
        lines.append("    " + paint(f"{counts['same']} unchanged", _DIM))
    if len(lines) == 1:
        lines.append("    no changes")
    lines.append(f"Duration: {format_duration(summary.duration)}")
    if summary.outputs:
        lines.append("Outputs:")
        for key, value in summary.outputs.items():
            lines.append(f"    {key}: {_format_value(value)}")
    if summary.warnings:
        lines.append(paint("Warnings:", _YELLOW))
        for warning in summary.warnings:
            lines.append("    " + warning.replace("\n", "\n        "))
    if summary.failures:
        lines.append(paint("Failures:", _RED))
        for where, message in summary.failures:
            lines.append("    " + paint(str(where), _RED) + ": "
                         + (message or "").replace("\n", "\n        "))
    if summary.skipped:
        steps = "step" if summary.skipped == 1 else "steps"
        why = ("the run was interrupted" if summary.result == "interrupted"
               else "a dependency failed")
        lines.append(f"Skipped: {summary.skipped} {steps} not run because "
                     f"{why}")
    if summary.result != "succeeded":
        lines.append(paint(f"{_NOUN.get(summary.kind, 'Run')} "
                           f"{summary.result}", _RED))
    return "\n".join(lines) + "\n"


class _GuardedStream:
    """The display's stream.  A write or flush that fails (a pipe whose
    reader left, a full disk, a file size limit, a terminal that hung up)
    must not stop the engine: it would raise inside a step's bookkeeping,
    the step would never settle and the run would wait for ever with its
    lock held.  The first failure marks the stream lost; the stream's file
    descriptor is pointed at /dev/null, so that what is still buffered,
    and the interpreter's last flush at exit, go nowhere without raising;
    then on_lost(exc) tells the engine, which stops the run as after a
    first Ctrl-C.  Every later write and flush does nothing."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._raw_write = stream.write
        self._raw_flush = stream.flush
        #: The exception that lost the stream, or None.
        self.lost: BaseException | None = None
        #: Called once, with that exception (set by the engine).
        self.on_lost: Callable[[BaseException], None] | None = None

    def write(self, text: str) -> None:
        if self.lost is None:
            try:
                self._raw_write(text)
            except (OSError, ValueError) as exc:
                self._lose(exc)

    def flush(self) -> None:
        if self.lost is None:
            try:
                self._raw_flush()
            except (OSError, ValueError) as exc:
                self._lose(exc)

    def __getattr__(self, name: str) -> Any:
        # isatty, encoding, fileno, ...: the stream's own.
        return getattr(self._stream, name)

    def _lose(self, exc: BaseException) -> None:
        self.lost = exc
        try:
            fd = self._stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, fd)
            finally:
                os.close(null)
            self._raw_flush()   # the rest of the buffer, into /dev/null
        except (OSError, ValueError):
            pass  # not a file descriptor (a StringIO), or still failing
        if self.on_lost is not None:
            self.on_lost(exc)


class Display:
    """The interface the engine drives; see the module docstring."""

    def __init__(self, kind: str, stack: str, project: str,
                 stream: TextIO, color: bool) -> None:
        if kind not in _KINDS:
            raise ValueError(f"display kind must be one of {_KINDS}, "
                             f"not {kind!r}")
        self.kind = kind
        self.stack = stack
        self.project = project
        # Every write and flush below goes through the guard: a stream
        # that cannot be written never raises into the engine.
        guarded = _GuardedStream(stream)
        self.stream = guarded
        self.color = color
        self.header = _HEADER[kind].format(stack=stack, project=project)
        # Every write masks the plaintext of the secrets the run knows
        # (outrun/_secrets.py): the one place all three modes go through.
        self._write = _secrets.masking(guarded.write)
        self._debug = os.environ.get("OUTRUN_LOG") == "debug"
        self._finished = False
        self._closed = False

    def start(self) -> None:
        raise NotImplementedError

    def step_started(self, step: Any) -> None:
        raise NotImplementedError

    def step_finished(self, step: Any) -> None:
        raise NotImplementedError

    def step_skipped(self, step: Any, reason: str) -> None:
        raise NotImplementedError

    def same(self, step: Any) -> None:
        raise NotImplementedError

    def diag(self, level: str, message: str, urn: str | None = None) -> None:
        raise NotImplementedError

    def finish(self, summary: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @property
    def lost(self) -> BaseException | None:
        """Why the display can no longer write (the stream's error: a
        closed pipe, a full disk), or None while it can."""
        return self.stream.lost

    def on_lost(self, callback: Callable[[BaseException], None]) -> None:
        """callback(exc) runs once, when a write or flush first fails."""
        self.stream.on_lost = callback

    def _diag_line(self, level: str, message: str, urn: str | None) -> str:
        if urn:
            message = f"{_urn_name(urn)}: {message}"
        if level == "info":
            return message + "\n"
        prefix = f"{level}:"
        if self.color:
            prefix = f"\x1b[{_DIAG_COLOR.get(level, _DIM)}m{prefix}\x1b[0m"
        return f"{prefix} {message}\n"


class _Prefixes(dict[str, str]):
    """op -> "  + create   " (painted), built on first use of an op."""

    def __init__(self, words: dict[str, str], color: bool,
                 symbol: str | None = None, code: str | None = None) -> None:
        super().__init__()
        self._words = words
        self._paint = _painter(color)
        self._symbol = symbol
        self._code = code

    def __missing__(self, op: str) -> str:
        word = self._words.get(op, op)
        symbol = self._symbol or _SYMBOL.get(op, "*")
        code = self._code or _OP_COLOR.get(op, _DIM)
        pad = " " * max(1, _VERB_WIDTH + 1 - len(word))
        lead = " " * max(1, 3 - len(symbol))   # symbols right-aligned
        prefix = lead + self._paint(f"{symbol} {word}", code) + pad
        self[op] = prefix
        return prefix


class _FlushSoon(Display):
    """Line-per-event displays: a line goes to the stream's buffer, and
    the buffer to the stream at once on a terminal, otherwise within
    FLUSH_INTERVAL (one timer for any number of lines): a run of 100,000
    steps makes 100,000 lines, not 100,000 system calls."""

    def __init__(self, kind: str, stack: str, project: str,
                 stream: TextIO, color: bool) -> None:
        super().__init__(kind, stack, project, stream, color)
        self._tty = _isatty(stream)
        self._pending = False   # written and not flushed (non-tty only)
        self._timer: asyncio.TimerHandle | None = None
        self.timers = 0         # flush timers scheduled

    def _wrote(self) -> None:
        """After a write with nothing pending: flush now (tty) or soon."""
        if self._tty:
            self.stream.flush()
            return
        self._pending = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # flushed by finish() or close()
        self._timer = loop.call_later(FLUSH_INTERVAL, self._flush_now)
        self.timers += 1

    def _flush_now(self) -> None:
        self._timer = None
        self._pending = False
        self.stream.flush()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class PlainDisplay(_FlushSoon):
    """One line per event, for pipes and CI logs."""

    def __init__(self, kind: str, stack: str, project: str,
                 stream: TextIO, color: bool) -> None:
        super().__init__(kind, stack, project, stream, color)
        self._preview = kind == "preview"
        self._begin = _Prefixes({op: op for op in _SYMBOL}, color)
        self._done = _Prefixes(_DONE, color)
        paint = _painter(color)
        self._failed = "  " + paint("! failed", _RED) + "   "
        self._skipped = "  " + paint(". skipped", _DIM) + "  "
        #: Counters, for the engine's and the tests' eyes.
        self.same_count = 0

    def start(self) -> None:
        self._write(self.header + "\n")
        self.stream.flush()

    def step_started(self, step: Any) -> None:
        if self._preview:
            return
        line = self._begin[step.op] + step.type + "  " + step.name
        if step.detail:
            line += "  [" + step.detail + "]"
        self._write(line + "\n")
        if not self._pending:
            self._wrote()

    def step_finished(self, step: Any) -> None:
        elapsed = step.elapsed
        if step.error is not None or step.ok is False:
            line = (self._failed + step.type + "  " + step.name + ": "
                    + _first_line(step.error or "failed") + "\n")
        elif self._preview:
            line = self._begin[step.op] + step.type + "  " + step.name
            if step.detail:
                line += "  [" + step.detail + "]"
            line += "\n"
        elif elapsed is not None:
            # format_duration() inlined for the common sub-second step.
            line = (f"{self._done[step.op]}{step.type}  {step.name}  "
                    f"({elapsed:.2f}s)\n" if elapsed < 1 else
                    f"{self._done[step.op]}{step.type}  {step.name}  "
                    f"({format_duration(elapsed)})\n")
        else:
            line = self._done[step.op] + step.type + "  " + step.name + "\n"
        self._write(line)
        if not self._pending:
            self._wrote()

    def step_skipped(self, step: Any, reason: str) -> None:
        self._write(self._skipped + step.type + "  " + step.name + ": "
                    + _first_line(reason) + "\n")
        if not self._pending:
            self._wrote()

    def same(self, step: Any) -> None:
        self.same_count += 1

    def diag(self, level: str, message: str, urn: str | None = None) -> None:
        if level == "debug" and not self._debug:
            return
        self._write(self._diag_line(level, message, urn))
        if not self._pending:
            self._wrote()

    def finish(self, summary: Any) -> None:
        self._finished = True
        if self._timer is not None:
            self._timer.cancel()
        self._write("\n" + format_summary(summary, self.color))
        self._flush_now()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._flush_now()


class JsonDisplay(_FlushSoon):
    """One JSON object per line."""

    def __init__(self, kind: str, stack: str, project: str,
                 stream: TextIO) -> None:
        super().__init__(kind, stack, project, stream, False)
        self._dumps = _json_line

    def _emit(self, event: dict[str, Any]) -> None:
        self._write(self._dumps(event))
        if not self._pending:
            self._wrote()

    def _step(self, event: str, step: Any, status: str,
              elapsed: float | None = None,
              error: str | None = None) -> dict[str, Any]:
        return {"event": event, "urn": step.urn, "type": step.type,
                "name": step.name, "op": step.op, "status": status,
                "elapsed": elapsed, "error": error, "detail": step.detail}

    def start(self) -> None:
        self._emit({"event": "start", "kind": self.kind, "stack": self.stack,
                    "project": self.project})

    def step_started(self, step: Any) -> None:
        self._emit(self._step("step", step, "started"))

    def step_finished(self, step: Any) -> None:
        failed = step.error is not None or step.ok is False
        self._emit(self._step("step", step, "failed" if failed else "done",
                              step.elapsed, step.error))

    def step_skipped(self, step: Any, reason: str) -> None:
        event = self._step("skipped", step, "skipped")
        event["reason"] = reason
        self._emit(event)

    def same(self, step: Any) -> None:
        self._emit(self._step("same", step, "same"))

    def diag(self, level: str, message: str, urn: str | None = None) -> None:
        self._emit({"event": "diag", "level": level, "message": message,
                    "urn": urn})

    def finish(self, summary: Any) -> None:
        self._finished = True
        self._emit({
            "event": "summary", "kind": summary.kind,
            "stack": summary.stack, "project": summary.project,
            "result": summary.result, "counts": dict(summary.counts),
            "duration": summary.duration, "outputs": dict(summary.outputs),
            "failures": [{"urn": where, "message": message}
                         for where, message in summary.failures],
            "skipped": summary.skipped, "warnings": list(summary.warnings),
        })
        self._stop_timer()
        self._flush_now()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_timer()
        self._flush_now()


class LiveDisplay(Display):
    """The terminal view: a block of rows redrawn in place."""

    def __init__(self, kind: str, stack: str, project: str,
                 stream: TextIO, color: bool) -> None:
        super().__init__(kind, stack, project, stream, color)
        self._preview = kind == "preview"
        self._paint = _painter(color)
        self._inflight: dict[int, Any] = {}
        # (step, state, text): state "done" | "failed" | "skipped".
        self._recent: collections.deque[tuple[Any, str, str]] = (
            collections.deque(maxlen=RECENT_MAX))
        self._done_total = 0    # rows that went into _recent
        self._failed = 0
        self._skipped = 0
        self._same = 0
        self._lines = 0         # height of the block on the screen
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_draw: float | None = None   # loop.time() of it
        self._cursor_hidden = False
        self._t0 = time.monotonic()
        encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            "…".encode(encoding)
            self._more = "…"
        except (LookupError, UnicodeEncodeError):
            self._more = "..."
        #: Counters, for the tests' eyes: blocks drawn, timers scheduled.
        self.redraws = 0
        self.timers = 0

    # Events -------------------------------------------------------------

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cursor_hidden = True
        self._write(_HIDE_CURSOR + self.header + "\n")
        self.stream.flush()

    def step_started(self, step: Any) -> None:
        self._inflight[id(step)] = step
        if self._timer is None:
            self._changed()

    def step_finished(self, step: Any) -> None:
        self._inflight.pop(id(step), None)
        if step.error is not None or step.ok is False:
            self._failed += 1
            self._recent.append((step, "failed", _first_line(step.error)))
        else:
            self._recent.append((step, "done", ""))
        self._done_total += 1
        if self._timer is None:
            self._changed()

    def step_skipped(self, step: Any, reason: str) -> None:
        self._skipped += 1
        self._recent.append((step, "skipped", _first_line(reason)))
        self._done_total += 1
        if self._timer is None:
            self._changed()

    def same(self, step: Any) -> None:
        self._same += 1
        if self._timer is None:
            self._changed()

    def diag(self, level: str, message: str, urn: str | None = None) -> None:
        if level == "debug" and not self._debug:
            return
        # Above the block: erase it, print, and draw it again soon.
        self._write(self._erase() + self._diag_line(level, message, urn))
        self._lines = 0
        self.stream.flush()
        if self._timer is None:
            self._changed()

    def finish(self, summary: Any) -> None:
        self._finished = True
        self._cancel()
        self._draw()
        self._lines = 0   # the last block stays; the summary goes below
        text = "\n" + format_summary(summary, self.color)
        if self._cursor_hidden:
            self._cursor_hidden = False
            text += _SHOW_CURSOR
        self._write(text)
        self.stream.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cancel()
        if self._cursor_hidden:
            self._cursor_hidden = False
            self._write(_SHOW_CURSOR)
        self.stream.flush()

    # Redraws ------------------------------------------------------------

    def _changed(self) -> None:
        """Schedules a redraw, at most REDRAW_INTERVAL after the last."""
        if self._closed or self._finished or self.stream.lost is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # drawn by finish()
        delay = 0.0
        if self._last_draw is not None and self._loop is loop:
            delay = max(0.0, self._last_draw + REDRAW_INTERVAL - loop.time())
        self._loop = loop
        self._timer = loop.call_later(delay, self._tick)
        self.timers += 1

    def _tick(self) -> None:
        self._timer = None
        assert self._loop is not None
        self._last_draw = self._loop.time()
        self._draw()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _erase(self) -> str:
        if not self._lines:
            return ""
        return f"\r\x1b[{self._lines}A{_ERASE_DOWN}"

    def _draw(self) -> None:
        columns, rows = shutil.get_terminal_size()
        block = self.render(columns, rows)
        self._write(self._erase() + _ERASE_DOWN + "".join(
            line + "\n" for line in block))
        self.stream.flush()
        self._lines = len(block)
        self.redraws += 1

    def render(self, columns: int, rows: int) -> list[str]:
        """The block for a terminal of this size: at most rows - 2 lines
        (1 at least) of at most columns - 1 characters (escapes aside)."""
        width = max(columns - 1, 10)
        budget = max(rows - 2, 1)
        body = budget - 1          # the status line is the last
        now = time.monotonic()
        lines: list[str] = []
        inflight = len(self._inflight)
        if inflight > body:
            if body >= 1:
                shown = body - 1
                for step in itertools.islice(self._inflight.values(), shown):
                    lines.append(self._row(step, "active", "", now, width))
                lines.append(self._clip(
                    f"  {self._more} {inflight - shown} more in flight",
                    width))
        else:
            room = body - inflight
            done = min(len(self._recent), room)
            if self._done_total > done and room > 0:
                done = min(len(self._recent), room - 1)
                lines.append(self._clip(
                    f"  {self._more} {self._done_total - done} more done",
                    width))
            start = len(self._recent) - done
            for step, state, text in itertools.islice(
                    self._recent, start, None):
                lines.append(self._row(step, state, text, now, width))
            for step in self._inflight.values():
                lines.append(self._row(step, "active", "", now, width))
        lines.append(self._status(now, width))
        return lines

    def _clip(self, text: str, width: int) -> str:
        # Masked before it is cut, so that no piece of a secret shows.
        text = _secrets.mask(text)
        if len(text) > width:
            text = text[:width - len(self._more)] + self._more
        return text

    def _row(self, step: Any, state: str, text: str, now: float,
             width: int) -> str:
        op = step.op
        symbol = _SYMBOL.get(op, "*")
        code = _OP_COLOR.get(op, _DIM)
        seconds = None
        if state == "active":
            status = _ACTIVE.get(op, op)
            seconds = now - step.started
        elif state == "done":
            status = "" if self._preview else _DONE.get(op, "done")
            seconds = None if self._preview else step.elapsed
        elif state == "failed":
            symbol, code = "!", _RED
            status = "failed: " + text if text else "failed"
            seconds = step.elapsed
        else:
            symbol, code = ".", _DIM
            status = "skipped: " + text
        lead = " " * max(1, 3 - len(symbol))
        head = f"{lead}{symbol} {op}"
        row = (head + " " * max(1, _VERB_WIDTH + 1 - len(op))
               + f"{step.type}  {step.name}")
        if status:
            row += "  " + status
        if seconds is not None:
            row += "  " + format_duration(seconds)
        row = self._clip(row, width)
        if not self.color:
            return row
        if state in ("failed", "skipped"):
            return self._paint(row, code)
        if len(row) < len(head):
            return self._paint(row, code)
        return (lead + self._paint(head[len(lead):], code)
                + row[len(head):])

    def _status(self, now: float, width: int) -> str:
        parts = [f"{len(self._inflight)} in flight"]
        done = self._done_total - self._failed - self._skipped
        if done:
            parts.append(f"{done} done")
        if self._failed:
            parts.append(f"{self._failed} failed")
        if self._skipped:
            parts.append(f"{self._skipped} skipped")
        if self._same:
            parts.append(f"{self._same} unchanged")
        text = self._clip("  " + ", ".join(parts) + "  "
                          + format_duration(now - self._t0), width)
        if self.color and self._failed:
            failed = f"{self._failed} failed"
            text = text.replace(failed, self._paint(failed, _RED), 1)
        return text


def make_display(kind: str, stack: str, project: str,
                 json_mode: bool = False, stream: TextIO | None = None,
                 color: bool | None = None,
                 live: bool | None = None) -> Display:
    """The display for a run; see the module docstring for the defaults."""
    if stream is None:
        stream = sys.stdout
    if json_mode:
        return JsonDisplay(kind, stack, project, stream)
    tty = _isatty(stream)
    dumb = os.environ.get("TERM") == "dumb"
    if live is None:
        live = tty and not dumb
    if color is None:
        color = (live or tty) and not dumb and "NO_COLOR" not in os.environ
    if live:
        return LiveDisplay(kind, stack, project, stream, color)
    return PlainDisplay(kind, stack, project, stream, color)
