"""What a run shows while it works: a live view on a terminal, plain
one-line events otherwise, or JSON events (``--json``).

CONTRACT (the engine codes against exactly this; keep it):

    disp = make_display(kind, stack, project, json_mode=False,
                        stream=None, color=None, live=None)
        kind: "preview" | "up" | "destroy"
        stream: default sys.stdout
        live: default stream.isatty() and not json_mode and TERM != "dumb"
        color: default live-or-tty and "NO_COLOR" not in the environment
               (NO_COLOR set to anything, even empty, turns colour off)

    disp.start()                         # once, before any step
    disp.step_started(step)              # a provider operation begins
    disp.step_finished(step)             # it ended (step.ok / step.error set)
    disp.step_skipped(step, reason)      # not run because a dependency failed
    disp.same(step)                      # an unchanged resource (counted; the
                                         # plain mode prints nothing for it,
                                         # json prints an event)
    disp.diag(level, message, urn=None)  # level: "debug" | "info" | "warning" | "error"
    disp.finish(summary)                 # once, at the end
    disp.close()                         # stops the live view's timer, restores the cursor

`step` is any object with the attributes
    urn: str, type: str, name: str,
    op: "create" | "update" | "replace" | "delete" | "same" | "read"
    ok: bool | None, error: str | None, started: float (time.monotonic()),
    elapsed: float | None (seconds, set when finished),
    detail: str | None (e.g. the changed keys "length, special")
In preview the op names are the planned ones and step_started/finished
come in pairs with elapsed ~ 0.

`summary` is any object with
    kind, stack, project, result: "succeeded" | "failed" | "interrupted",
    counts: dict[op, int]           (ops that happened, incl. "same")
    duration: float (seconds)
    outputs: dict[str, Any]          (stack outputs, secrets already replaced by "[secret]")
    failures: list[tuple[str, str]]  ((urn or name, message) of each failed step)
    skipped: int
    warnings: list[str]

Plain lines, one per event, e.g.
    Previewing update of stack dev (project web)
      + create   random:index/randomString:RandomString  s1
      + created  random:index/randomString:RandomString  s1  (0.01s)
      ~ update   ... / +- replace ... / - delete ... / ! failed ... : message
    then the summary: counts, duration, outputs, failures.
JSON: one object per line: {"event": "start"|"step"|"skipped"|"same"|"diag"|"summary", ...}
with keys urn, type, name, op, status ("started"|"done"|"failed"), elapsed, error.

The live view redraws at most 10 times a second from loop.call_later (no
threads): a header, one row per step in flight or recently finished
(bounded by the terminal height; older finished rows collapse into a
count), then the summary when finished.  Secrets never reach the display:
the engine passes only names, types, ops and messages.
"""
from __future__ import annotations
