"""Subprocesses that never block the event loop: ``outrun.process.run``.

The process is started and waited for by native code on a worker thread,
without the GIL; the result comes back as an Output.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import _outrun
from _outrun import Output

__all__ = ["ProcessError", "ProcessResult", "ProcessTimeoutError", "cancel",
           "run"]

StrOrBytesPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

# How many lines of each stream a failure shows.
TAIL_LINES = 20

# The Output run() returns -> the Output of the native job behind it.
_jobs: weakref.WeakKeyDictionary[Output[Any], Output[Any]] = (
    weakref.WeakKeyDictionary())


def _leave_loop(exc: BaseException) -> None:
    """Ctrl-C or sys.exit() inside on_output ends the run as it would from
    any callback on the loop.  The native code that calls on_output reports
    what it raises as unraisable and carries on, which would swallow them:
    a Ctrl-C that arrived while on_output ran was lost, and the run went on
    waiting for its work.  So the exception is raised again from a loop
    callback of its own, which asyncio (and uvloop) let leave the loop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        # No loop runs (the pool's last lines, drained at exit): nothing
        # is left for it to stop.
        raise exc from None
    loop.call_soon(_raise, exc)


def _raise(exc: BaseException) -> None:
    raise exc


@dataclass(frozen=True)
class ProcessResult:
    """What a finished process did."""

    args: list[str] | str
    """The command as given."""
    returncode: int | None
    """The exit code, or None when a signal ended the process."""
    signal: int | None
    """The signal that ended it, or None."""
    stdout: str | bytes
    stderr: str | bytes
    duration: float
    """Seconds from start to exit."""


class ProcessError(Exception):
    """A process that ``check=True`` expected to succeed failed."""

    def __init__(self, message: str, result: ProcessResult) -> None:
        super().__init__(message)
        self.result = result


class ProcessTimeoutError(ProcessError, TimeoutError):
    """A process ran past its ``timeout`` and was killed."""


def _tail(data: str | bytes) -> str:
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    lines = text.rstrip("\n").splitlines()
    if not lines:
        return "    (nothing)"
    shown = lines[-TAIL_LINES:]
    more = len(lines) - len(shown)
    head = [f"    ... ({more} earlier lines)"] if more else []
    return "\n".join(head + [f"    {line}" for line in shown])


def _describe(args: Sequence[Any] | str) -> str:
    if isinstance(args, str):
        return args
    return " ".join(os.fsdecode(a) for a in args)


def run(args: Sequence[StrOrBytesPath] | str, *, shell: bool = False,
        input: str | bytes | None = None,
        cwd: StrOrBytesPath | None = None,
        env: Mapping[str, str] | None = None, timeout: float | None = None,
        check: bool = True, text: bool = True,
        on_output: Callable[[str, str | bytes], Any] | None = None,
        ) -> Output[ProcessResult]:
    """Runs a command on a native worker thread; returns an Output of its
    :class:`ProcessResult`.

    ``args`` is a list (the program and its arguments) or, with
    ``shell=True``, a string for ``/bin/sh -c``.  stdin is closed unless
    ``input`` is given.  The process leads its own process group: on
    ``timeout`` (seconds) or cancellation (:func:`cancel`, or the end of the
    run) the whole group gets SIGTERM, then SIGKILL.  With ``check`` a
    failure rejects the Output with :class:`ProcessError` (or
    :class:`ProcessTimeoutError`) showing the exit code or signal and the
    last lines of stdout and stderr.  ``text`` decodes both streams as
    UTF-8.  ``on_output(stream, line)`` is called on the loop thread for
    each line as it arrives (``stream`` is ``"stdout"`` or ``"stderr"``).
    A missing executable rejects the Output with ``FileNotFoundError``.
    """
    if shell:
        if not isinstance(args, (str, bytes)):
            raise TypeError("with shell=True, args must be one string for "
                            "/bin/sh -c")
        argv: list[Any] = ["/bin/sh", "-c", args]
    else:
        if isinstance(args, (str, bytes)):
            raise TypeError(
                "args must be a list such as ['ls', '-l'] (or pass one "
                "string with shell=True)")
        argv = list(args)
    data: bytes | None
    if input is None:
        data = None
    elif isinstance(input, str):
        data = input.encode()
    else:
        data = bytes(input)

    line_cb = None
    if on_output is not None:
        def line_cb(stream: str, line: bytes) -> None:
            try:
                on_output(stream,
                          line.decode(errors="replace") if text else line)
            except (KeyboardInterrupt, SystemExit) as exc:
                _leave_loop(exc)

    raw = _outrun.spawn(argv, env=env, cwd=cwd, input=data, timeout=timeout,
                        on_output=line_cb)
    given = args if isinstance(args, str) else list(args)

    def finish(r: dict[str, Any]) -> ProcessResult:
        out, err = r["stdout"], r["stderr"]
        if text:
            out = out.decode(errors="replace")
            err = err.decode(errors="replace")
        result = ProcessResult(
            args=given,
            returncode=r["returncode"] if r["signal"] == 0 else None,
            signal=r["signal"] or None,
            stdout=out,
            stderr=err,
            duration=r["duration"],
        )
        what = _describe(given)
        if r["timed_out"]:
            raise ProcessTimeoutError(
                f"command timed out after {timeout:g} s and was killed: "
                f"{what}\n  stdout (last lines):\n{_tail(out)}\n"
                f"  stderr (last lines):\n{_tail(err)}", result)
        if r["cancelled"]:
            raise ProcessError(f"command was cancelled: {what}", result)
        if check and (result.returncode != 0):
            how = (f"exit code {result.returncode}" if result.signal is None
                   else f"signal {result.signal}")
            raise ProcessError(
                f"command failed with {how} after {result.duration:.2f} s: "
                f"{what}\n  stdout (last lines):\n{_tail(out)}\n"
                f"  stderr (last lines):\n{_tail(err)}", result)
        return result

    result = raw.apply(finish)
    _jobs[result] = raw
    return result


def cancel(output: Output[Any]) -> bool:
    """Cancels the process behind an Output of :func:`run`: one not started
    yet never starts, a running one's process group is killed (the Output
    is then rejected with :class:`ProcessError`).  Returns whether it was
    still in flight."""
    raw = _jobs.get(output, output)
    return bool(_outrun.cancel(raw))
