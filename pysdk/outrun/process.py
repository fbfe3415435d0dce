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

from outrun import _secrets

__all__ = ["ProcessError", "ProcessResult", "ProcessTimeoutError", "cancel",
           "run"]

StrOrBytesPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

# How many lines of each stream a failure shows.
TAIL_LINES = 20

# The Output run() returns -> the call behind it.
_jobs: weakref.WeakKeyDictionary[Output[Any], _Call] = (
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


class _Slot:
    """Where an Output argument goes, by its index among the Outputs."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class _Call:
    """One run(): the native job once it is started, or that it was
    cancelled before it could be (its Output arguments still pending)."""

    __slots__ = ("raw", "cancelled")

    def __init__(self) -> None:
        self.raw: Output[Any] | None = None
        self.cancelled = False


def _describe(args: Sequence[Any] | str, secret: frozenset[int] | bool
              ) -> str:
    """The command for a message: secret arguments as [secret], and every
    known secret masked in the rest."""
    if isinstance(secret, bool):
        if secret:
            return _secrets.REPLACEMENT
        secret = frozenset()
    if isinstance(args, (str, bytes)):
        return _secrets.mask(os.fsdecode(args))
    return _secrets.mask(" ".join(
        _secrets.REPLACEMENT if i in secret else os.fsdecode(a)
        for i, a in enumerate(args)))


def run(args: Sequence[StrOrBytesPath | Output[StrOrBytesPath]] | str
        | Output[Any], *, shell: bool = False,
        input: str | bytes | Output[str | bytes] | None = None,
        cwd: StrOrBytesPath | Output[StrOrBytesPath] | None = None,
        env: Mapping[str, str | Output[str]] | Output[Mapping[str, str]]
        | None = None,
        timeout: float | None = None,
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

    Each argument, ``args`` itself, each ``env`` value or ``env`` itself,
    ``cwd`` and ``input`` may be an Output: the process starts when they
    are known (never with an unknown value, as in a preview), and the
    result is secret if any of them is.  A secret one is shown as
    ``[secret]`` in every message about the command (failure, timeout,
    cancellation, not found), and its plaintext is masked in them (in the
    output tails too) and in everything the run prints.
    """
    outs: list[Output[Any]] = []

    def take(value: Any) -> Any:
        if isinstance(value, Output):
            outs.append(value)
            return _Slot(len(outs) - 1)
        return value

    if isinstance(args, (Output, str, bytes)):
        args_in: Any = take(args)
    else:
        args_in = [take(a) for a in args]
    if isinstance(env, Output) or env is None:
        env_in: Any = take(env)
    else:
        env_in = {k: take(v) for k, v in env.items()}
    cwd_in, input_in = take(cwd), take(input)
    call = _Call()
    launch = _launcher(call, shell=shell, timeout=timeout, check=check,
                       text=text, on_output=on_output)
    if not outs:
        result = launch(args_in, input, cwd, env_in, frozenset(), False)
    else:
        def ready(values: list[Any]) -> Output[ProcessResult]:
            secret = [out._peek()[3] for out in outs]
            for value, is_secret in zip(values, secret):
                if is_secret:
                    _secrets.add(value)

            def put(x: Any) -> Any:
                return values[x.index] if isinstance(x, _Slot) else x

            hidden: frozenset[int] | bool
            if isinstance(args_in, _Slot):
                hidden = True if secret[args_in.index] else frozenset()
                argv_v = put(args_in)
            else:
                hidden = frozenset(
                    i for i, a in enumerate(args_in)
                    if isinstance(a, _Slot) and secret[a.index])
                argv_v = [put(a) for a in args_in]
            if isinstance(env_in, dict):
                env_v = {k: put(v) for k, v in env_in.items()}
            else:
                env_v = put(env_in)
            return launch(argv_v, put(input_in), put(cwd_in), env_v,
                          hidden, isinstance(cwd_in, _Slot)
                          and secret[cwd_in.index])

        result = Output.all(*outs).apply(ready)
    _jobs[result] = call
    return result


def _launcher(call: _Call, *, shell: bool, timeout: float | None,
              check: bool, text: bool,
              on_output: Callable[[str, str | bytes], Any] | None) -> Any:
    """launch(args, input, cwd, env, hidden, cwd_secret) starts the process
    with plain values; hidden is the set of secret argument positions, or
    True when the whole command is secret."""

    def launch(args: Any, input: Any, cwd: Any, env: Any,
               hidden: frozenset[int] | bool,
               cwd_secret: bool) -> Output[ProcessResult]:
        if shell:
            if not isinstance(args, (str, bytes)):
                raise TypeError("with shell=True, args must be one string "
                                "for /bin/sh -c")
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
        given = args if isinstance(args, str) else list(args)
        what = _describe(given, bool(hidden) if shell else hidden)
        if call.cancelled:
            raise ProcessError(
                f"command was cancelled before it started: {what}",
                ProcessResult(args=given, returncode=None, signal=None,
                              stdout="" if text else b"",
                              stderr="" if text else b"", duration=0.0))

        line_cb = None
        if on_output is not None:
            def line_cb(stream: str, line: bytes) -> None:
                try:
                    on_output(stream,
                              line.decode(errors="replace") if text
                              else line)
                except (KeyboardInterrupt, SystemExit) as exc:
                    _leave_loop(exc)

        raw = _outrun.spawn(argv, env=env, cwd=cwd, input=data,
                            timeout=timeout, on_output=line_cb)
        call.raw = raw

        def not_started(exc: Exception) -> Any:
            # The native error names argv[0] only; this one says which
            # command, with its secrets hidden.
            if not isinstance(exc, OSError) or exc.errno is None:
                raise exc
            first = (_secrets.REPLACEMENT
                     if hidden is True or (hidden and 0 in hidden)
                     else _secrets.mask(os.fsdecode(argv[0])))
            where = (f" in {_secrets.REPLACEMENT}" if cwd_secret else
                     f" in {_secrets.mask(os.fsdecode(cwd))}"
                     if cwd is not None else "")
            raise type(exc)(exc.errno, f"{exc.strerror}: cannot run "
                            f"{what}{where}", first) from None

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
            if r["timed_out"]:
                raise ProcessTimeoutError(_secrets.mask(
                    f"command timed out after {timeout:g} s and was killed: "
                    f"{what}\n  stdout (last lines):\n{_tail(out)}\n"
                    f"  stderr (last lines):\n{_tail(err)}"), result)
            if r["cancelled"]:
                raise ProcessError(f"command was cancelled: {what}", result)
            if check and (result.returncode != 0):
                how = (f"exit code {result.returncode}"
                       if result.signal is None
                       else f"signal {result.signal}")
                raise ProcessError(_secrets.mask(
                    f"command failed with {how} after "
                    f"{result.duration:.2f} s: {what}\n"
                    f"  stdout (last lines):\n{_tail(out)}\n"
                    f"  stderr (last lines):\n{_tail(err)}"), result)
            return result

        return raw.recover(not_started).apply(finish)

    return launch


def cancel(output: Output[Any]) -> bool:
    """Cancels the process behind an Output of :func:`run`: one not started
    yet never starts, a running one's process group is killed (the Output
    is then rejected with :class:`ProcessError`).  Returns whether it was
    still in flight."""
    call = _jobs.get(output)
    if call is None:
        return bool(_outrun.cancel(output))
    if call.raw is None:
        # Its Output arguments are still pending: it never starts.
        was = not call.cancelled
        call.cancelled = True
        return was
    return bool(_outrun.cancel(call.raw))
