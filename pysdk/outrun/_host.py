"""How a program runs: the event loop, the program's top level, the work
the SDK tracks, Ctrl-C and exit codes.

The outrun host (the C executable) calls :func:`main` once the interpreter
is up.  The same machinery serves :func:`run` from plain Python, so a
program written as ``outrun.run(main)`` behaves the same under
``outrun run`` and under ``python3``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import traceback
import types
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# Seconds a Python callable still running on a pool thread gets at exit.
SHUTDOWN_GRACE_S = 2.0

_SDK_DIR = os.path.dirname(os.path.abspath(__file__))
_ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__))
_SELECTORS_FILE = os.path.abspath(getattr(sys.modules.get("selectors"),
                                          "__file__", "") or "")

ASYNCIO_RUN_MESSAGE = (
    "asyncio.run() cannot be used inside an outrun program: the host "
    "already runs an event loop. Use `await` at the top level or in an "
    "async function, `Output.from_input(coro)` to turn a coroutine into an "
    "Output, or hand an `async def main()` to `outrun.run(main)`."
)


# The signals that stop a run inside the host, all the way Ctrl-C does.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class UsageError(Exception):
    """A mistake in how outrun was invoked; exit code 2."""


# --------------------------------------------------------------------------
# The runtime of one run
# --------------------------------------------------------------------------


class Runtime:
    """The state of one run: its loop, its main task and the work the host
    waits for before the run ends."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.main_task: asyncio.Future[Any] | None = None
        self.tracked: set[asyncio.Future[Any]] = set()
        self.failed: list[BaseException] = []
        self.interrupted = False
        # The stop signal that interrupted the run (SIGINT, SIGTERM or
        # SIGHUP), 0 before one; its exit code is 128 + the number.
        self.signal = 0
        # A stop signal that came during start-up, for the run to act on
        # once its main task exists.
        self.pending_signal = 0
        self.sched: Any = None
        self.debug_pending: float | None = None
        # outrun run's stall watchdog, if on: the engine beats it while a
        # program declares resources (progress, not a stall).
        self.stall_watch: StallWatch | None = None
        # --debug-pending: what else the run waits on (the engine's steps),
        # as report text, and as progress marks that change when it moves.
        self.pending_reporters: list[Callable[[], str]] = []
        self.progress_marks: list[Callable[[], Any]] = []
        self.pending_watch: asyncio.Task[None] | None = None

    # Outputs ----------------------------------------------------------------

    def attach_outputs(self) -> None:
        """Takes charge of the Outputs of this loop: their failures are kept
        for the end of the run instead of being reported one by one.  Call
        on the loop, before the program makes any Output."""
        import _outrun

        self.sched = _outrun.scheduler()
        self.sched.collect_failures = True
        self.sched.record_sites = self.debug_pending is not None
        if self.debug_pending is not None:
            # A site names the program's line, not the SDK's wrapper that
            # made the Output on its behalf (outrun.offload, @blocking).
            self.sched.site_skip = StallWatch.library_dirs()

    def take_output_failures(self) -> None:
        """Moves the failures of Outputs nobody recovered into failed."""
        if self.sched is not None:
            self.failed.extend(self.sched.take_failures())

    def pending_report(self) -> str:
        """What the run is waiting for: pending Outputs and tracked work."""
        lines = []
        if self.sched is not None:
            lines.append(self.sched.report())
        tracked = [t for t in self.tracked if not t.done()]
        if tracked:
            lines.append(f"{len(tracked)} tracked task(s) pending:")
            lines.extend(f"  {t!r}" for t in tracked)
        lines.extend(report() for report in self.pending_reporters)
        return "\n".join(lines)

    # Work the run waits for --------------------------------------------

    def track(self, awaitable: Awaitable[T]) -> asyncio.Future[T]:
        fut = asyncio.ensure_future(awaitable, loop=self.loop)
        if not fut.done():
            self.tracked.add(fut)
        fut.add_done_callback(self._settled)
        return fut

    def _settled(self, fut: asyncio.Future[Any]) -> None:
        self.tracked.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:
            self.failed.append(fut.exception())  # type: ignore[arg-type]

    async def wait_for_tracked(self) -> None:
        """Waits until no tracked work and no Output of this loop is
        pending.  Work tracked while waiting is waited for too.  Then moves
        the failures of Outputs into failed."""
        watchdog = None
        if self.debug_pending is not None and self.sched is not None \
                and self.pending_watch is None:
            watchdog = self.loop.create_task(self._watch_pending())
        try:
            while True:
                if self.tracked:
                    await asyncio.wait(list(self.tracked))
                elif self.sched is not None and self.sched.pending_count:
                    await self.sched.wait_idle()
                else:
                    break
        finally:
            if watchdog is not None:
                watchdog.cancel()
        self.take_output_failures()

    def watch_pending(self) -> None:
        """--debug-pending for the rest of the run, not only while
        wait_for_tracked() waits: the engine's commands call it, whose
        steps (a provider's create that never returns) and deletes run
        outside it."""
        if self.debug_pending is None or self.sched is None \
                or self.pending_watch is not None:
            return
        self.pending_watch = self.loop.create_task(self._watch_pending())

    def _progress(self) -> tuple[Any, ...]:
        return (self.sched.settled_count,
                *(mark() for mark in self.progress_marks))

    async def _watch_pending(self) -> None:
        """--debug-pending: when nothing settles for a while, says what the
        run waits on (once per stall)."""
        assert self.debug_pending is not None
        last = self._progress()
        reported_at = None
        while True:
            await asyncio.sleep(self.debug_pending)
            if self.main_task is not None and self.main_task.done():
                return
            now = self._progress()
            if now != last:
                last = now
                continue
            if reported_at != now:
                reported_at = now
                print(f"outrun: nothing settled for {self.debug_pending:g} s;"
                      f" the run waits on:\n{self.pending_report()}",
                      file=sys.stderr, flush=True)

    def install_sigquit(self) -> Callable[[], None]:
        """SIGQUIT (Ctrl-\\) prints what the run waits on, and the run
        goes on."""
        if (threading.current_thread() is not threading.main_thread()
                or not hasattr(signal, "SIGQUIT")):
            return lambda: None

        def on_sigquit(signum: int, frame: types.FrameType | None) -> None:
            print(f"outrun: SIGQUIT: the run waits on:\n"
                  f"{self.pending_report()}", file=sys.stderr, flush=True)

        previous = signal.signal(signal.SIGQUIT, on_sigquit)
        return lambda: signal.signal(signal.SIGQUIT, previous)

    # Ctrl-C ----------------------------------------------------------------

    def install_interrupts(self) -> Callable[[], None]:
        """Routes SIGINT (and, inside the host, SIGTERM and SIGHUP) to this
        run; returns a function that undoes it."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        try:
            import _outrun_host
        except ImportError:
            _outrun_host = None
        wanted = (signal.SIGINT,) if _outrun_host is None else STOP_SIGNALS
        # Started with a signal ignored (a background job of a shell
        # script, say): python3 leaves it ignored, and so does a run.
        sigs = [s for s in wanted if signal.getsignal(s) is not signal.SIG_IGN]
        if not sigs:
            return lambda: None
        # Blocked while the handlers change hands, so that none lands
        # between Python's handler and the host's.
        signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
        try:
            previous = {s: signal.signal(s, self._on_sigint) for s in sigs}
            if _outrun_host is not None:
                # The host's C handler goes in front: a second signal exits
                # at once even when the loop thread is stuck in native
                # code.  A signal of the start-up is this run's first.
                self.pending_signal = _outrun_host.arm_interrupts(sigs)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)

        def restore() -> None:
            signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
            try:
                # None: the host's handler was there before the run.  Python
                # keeps SIG_DFL in its own table for it, which finalisation
                # leaves alone (it resets a signal with a Python handler to
                # SIG_DFL, and a second Ctrl-C then killed the host: -2);
                # defer_interrupts puts the host's handler back in front.
                for s, handler in previous.items():
                    signal.signal(s, signal.SIG_DFL if handler is None
                                  else handler)
                host_held = [s for s, h in previous.items() if h is None]
                if host_held and _outrun_host is not None:
                    _outrun_host.defer_interrupts(host_held)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)

        return restore

    def take_pending_signal(self) -> None:
        """Acts on a stop signal that came during start-up, once the main
        task exists: the program is cancelled before it starts."""
        signum, self.pending_signal = self.pending_signal, 0
        if signum:
            self._on_sigint(signum, None)

    def exit_code_interrupted(self) -> int:
        """The exit code of an interrupted run: 128 + the signal's number
        (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP)."""
        return 128 + (self.signal or signal.SIGINT)

    def report_interrupted(self) -> None:
        """Says on stderr how the run was stopped."""
        print(_stopped_message(self.signal or signal.SIGINT),
              file=sys.stderr)

    def _on_sigint(self, signum: int, frame: types.FrameType | None) -> None:
        """The first stop signal (Ctrl-C, SIGTERM, SIGHUP) of the run."""
        if self.main_task is None and not self.interrupted:
            # Still starting: no main task to cancel, and raising here
            # would raise inside the SDK's own code ("internal error", then
            # a second Ctrl-C met the default action: -2).  The run takes
            # the signal once its main task exists (take_pending_signal),
            # and the program never starts.
            if not self.pending_signal:
                self.pending_signal = signum
            return
        first = not self.interrupted
        self.interrupted = True
        if not self.signal:
            self.signal = signum
        task = self.main_task
        if not first or task is None or task.done():
            raise KeyboardInterrupt
        if frame is not None and _is_user_frame(frame):
            # The loop thread is inside the program's own code, maybe in a
            # blocking call: interrupt it there so its cleanup runs.
            raise KeyboardInterrupt
        # The loop is waiting for events: cancel the program's main task,
        # which runs its cleanup on the loop.
        task.cancel()
        self.loop.call_soon_threadsafe(_nothing)

    # Shutdown ---------------------------------------------------------------

    def close(self, stop_pool: bool = False) -> None:
        """Cancels what is left, finishes async generators and the default
        executor, and closes the loop.  stop_pool (the host's last run):
        stops the native worker pool first, while the loop can still take
        the last completions."""
        loop = self.loop
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            try:
                if stop_pool:
                    import _outrun

                    _outrun.shutdown(SHUTDOWN_GRACE_S)
            finally:
                asyncio.set_event_loop(None)
                loop.close()


class StallWatch:
    """--stall-warning: the native watchdog (``_outrun.Watchdog``) warns
    while the loop thread stays away from the loop for longer than the
    threshold; this side beats it from a loop callback and prints the
    summary at the end of the run."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 threshold_ms: float) -> None:
        import _outrun

        self.loop = loop
        self.watchdog = _outrun.Watchdog(threshold_ms, self.library_dirs())
        self.interval = self.watchdog.beat_interval_ms / 1000
        self.handle: asyncio.Handle = loop.call_soon(self._beat)

    def _beat(self) -> None:
        self.watchdog.beat()
        self.handle = self.loop.call_later(self.interval, self._beat)

    def stop(self) -> None:
        """Stops the watchdog (a stall going on ends here) and prints one
        line if the loop stalled."""
        self.handle.cancel()
        stalls, total_ms, worst_ms = self.watchdog.stop()
        if stalls == 1:
            print(f"outrun: the event loop stalled once, for "
                  f"{worst_ms:.0f} ms; see the warning above",
                  file=sys.stderr, flush=True)
        elif stalls:
            print(f"outrun: the event loop stalled {stalls} times for "
                  f"{total_ms / 1000:.2f} s in total (worst "
                  f"{worst_ms:.0f} ms); see the warnings above",
                  file=sys.stderr, flush=True)

    @staticmethod
    def library_dirs() -> tuple[str, ...]:
        """The folders whose code is not the program's, each ending in a
        separator: the standard library, site-packages (a virtual
        environment's too) and the SDK.  A warning names the innermost
        line outside them."""
        import site

        # The standard library is where asyncio is; site is imported at
        # start-up already (sysconfig would cost an import).
        dirs = {_SDK_DIR, os.path.dirname(_ASYNCIO_DIR),
                *getattr(site, "getsitepackages", list)()}
        if site.ENABLE_USER_SITE:
            dirs.add(site.getusersitepackages())
        dirs.update(p for p in sys.path
                    if os.path.basename(p) in ("site-packages",
                                               "dist-packages"))
        return tuple(sorted({os.path.join(f(d), "") for d in dirs
                             for f in (os.path.abspath, os.path.realpath)}))


_current: Runtime | None = None


def _nothing() -> None:
    pass


def _is_user_frame(frame: types.FrameType) -> bool:
    filename = os.path.abspath(frame.f_code.co_filename)
    return not (
        filename.startswith(_SDK_DIR + os.sep)
        or filename.startswith(_ASYNCIO_DIR + os.sep)
        or filename == _SELECTORS_FILE
        or "uvloop" in filename
    )


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancels every task still on the loop (user tasks that nothing waits
    for) and lets them run their cleanup."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    try:
        loop.run_until_complete(
            asyncio.gather(*tasks, return_exceptions=True))
    except (SystemExit, KeyboardInterrupt):
        # The exception ends the run and is reported as its exit code;
        # the task that raised it must not report it again as "never
        # retrieved".
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()
        raise
    for task in tasks:
        if task.cancelled():
            continue
        exc = task.exception()
        if exc is not None:
            loop.call_exception_handler({
                "message": "unhandled exception in a task cancelled at exit",
                "exception": exc,
                "task": task,
            })


def current() -> Runtime | None:
    """The runtime of the run in progress on this thread, if any."""
    rt = _current
    if rt is None:
        return None
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return rt if running is rt.loop else None


# --------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------


def track(awaitable: Awaitable[T]) -> asyncio.Future[T]:
    """Makes the run wait for ``awaitable`` before it ends.

    Inside ``outrun run`` (or :func:`run`), the host keeps the loop running
    after the program's top level until every tracked awaitable has
    settled, and a tracked awaitable that fails fails the run.  Outside a
    run this just schedules the awaitable on the running loop.
    """
    rt = current()
    if rt is None:
        return asyncio.ensure_future(awaitable)
    return rt.track(awaitable)


def run(main: Callable[[], Awaitable[T]] | Awaitable[T]) -> Any:
    """Runs an async program: ``outrun.run(main)``.

    ``main`` is an ``async def`` function taking no arguments (or an
    awaitable).  Inside ``outrun run`` this schedules it on the host's loop
    and the host waits for it; the task is returned.  From plain Python it
    creates a loop, runs ``main`` and all tracked work to the end, and
    returns what ``main`` returned, like ``asyncio.run``.
    """
    if callable(main):
        aw = main()
    else:
        aw = main
    if not isinstance(aw, Awaitable):
        if asyncio.iscoroutine(aw):  # pragma: no cover - always Awaitable
            aw.close()
        raise TypeError(
            "outrun.run() needs an async function (async def main(): ...) "
            f"or an awaitable, not {type(aw).__name__}"
        )
    rt = current()
    if rt is not None:
        task = rt.track(aw)
        from outrun import _monitor

        monitor = _monitor.active
        if monitor is not None:
            # Under outrun up / preview, a mapping main returns becomes
            # stack outputs.
            task.add_done_callback(monitor.program_returned)
        return task
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        if asyncio.iscoroutine(aw):
            aw.close()
        raise RuntimeError(
            "outrun.run() was called while an event loop is already running "
            "in this thread; `await main()` there instead"
        )
    return _run_standalone(aw)


def _run_standalone(aw: Awaitable[T]) -> T:
    global _current
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    rt = Runtime(loop)
    previous, _current = _current, rt

    async def whole() -> T:
        rt.attach_outputs()
        result = await aw
        await rt.wait_for_tracked()
        if len(rt.failed) == 1:
            raise rt.failed[0]
        if rt.failed:
            raise BaseExceptionGroup(
                f"{len(rt.failed)} pieces of tracked work failed",
                rt.failed)
        return result

    restore = rt.install_interrupts()
    try:
        rt.main_task = loop.create_task(whole())
        rt.take_pending_signal()
        try:
            return loop.run_until_complete(rt.main_task)
        except asyncio.CancelledError:
            # Ctrl-C cancelled main so that its cleanup ran; to the caller
            # it is a KeyboardInterrupt, as with asyncio.run().
            if rt.interrupted and rt.main_task.cancelled():
                raise KeyboardInterrupt() from None
            raise
    finally:
        restore()
        _current = previous
        rt.close()


# --------------------------------------------------------------------------
# The host's side: outrun run PROGRAM
# --------------------------------------------------------------------------


def main(options: dict[str, Any]) -> int:
    """Entry point of the outrun host.  Returns the process exit code."""
    command = options.get("command")
    try:
        if command in ("run", "preview", "up", "destroy", "bench"):
            check_threads_env()
        if command == "run":
            return run_program(options)
        from outrun import _cli

        if command in ("preview", "up", "destroy"):
            # A stop signal stays deferred until the run begins, which acts
            # on it before the program starts (run_program).
            return _cli.main(command, sys.argv[2:], options)
        if command == "bench":
            # Imported while stop signals are still deferred.
            import outrun.bench  # noqa: F401
        return _interruptible(
            lambda: _cli.main(command, sys.argv[2:], options))
    except SystemExit as exc:
        # argparse in an SDK command (--help, a bad option) exits this way.
        return exit_code_of(exc)
    except UsageError as exc:
        print(f"outrun: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def check_threads_env() -> None:
    """OUTRUN_THREADS, when set, is a number of pool threads from 1 to
    1024 (the pool would otherwise fall back to its default silently)."""
    text = os.environ.get("OUTRUN_THREADS", "")
    if not text:
        return
    try:
        n = int(text, 10)
    except ValueError:
        n = 0
    if not 1 <= n <= 1024 or not text.strip().isdigit():
        raise UsageError(f"OUTRUN_THREADS is '{text}': give a number of "
                         "pool threads from 1 to 1024, or unset it")


def _stopped_message(sig: int) -> str:
    return ("outrun: interrupted" if sig == signal.SIGINT
            else f"outrun: stopped by {signal.Signals(sig).name}")


def _interruptible(command: Callable[[], int]) -> int:
    """Runs an SDK command that runs no program (bench, stack, config)
    with the stop signals raising KeyboardInterrupt in it, once the host
    has finished starting: the command stops and the exit code is 128 +
    the signal's number.  A second signal exits at once (the host)."""
    try:
        import _outrun_host
    except ImportError:
        return command()
    stopped: list[int] = []

    def on_signal(signum: int, frame: types.FrameType | None) -> None:
        if not stopped:
            stopped.append(signum)
        raise KeyboardInterrupt

    # None: the host's handler, deferring signals since start-up.
    sigs = [s for s in STOP_SIGNALS if signal.getsignal(s) is None]
    if not sigs:
        return command()
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        for s in sigs:
            signal.signal(s, on_signal)
        pending = _outrun_host.arm_interrupts(sigs)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)
    try:
        if pending:
            stopped.append(pending)
            raise KeyboardInterrupt
        return command()
    except KeyboardInterrupt:
        sig = stopped[0] if stopped else signal.SIGINT
        print(_stopped_message(sig), file=sys.stderr)
        return 128 + sig
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
        try:
            for s in sigs:
                signal.signal(s, signal.SIG_DFL)
            _outrun_host.defer_interrupts(sigs)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    """Creates the event loop the run uses, explicitly: never implied."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise UsageError(
                "--loop uvloop needs the uvloop package, which is not "
                f"installed for {sys.executable}; install it with "
                f"'{sys.executable} -m pip install uvloop', or drop --loop"
            ) from None
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _asyncio_run_guard(original: Callable[..., Any]) -> Callable[..., Any]:
    def run(main: Any, *, debug: bool | None = None) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # No loop runs on this thread (a worker thread, say): the real
            # asyncio.run is fine there.
            return original(main, debug=debug)
        if asyncio.iscoroutine(main):
            main.close()
        raise RuntimeError(ASYNCIO_RUN_MESSAGE)

    run.__doc__ = original.__doc__
    run.__wrapped__ = original  # type: ignore[attr-defined]
    return run


def run_program(options: dict[str, Any],
                program_main: Callable[..., Awaitable[None]] | None = None
                ) -> int:
    """Runs ``outrun run PROGRAM``: compiles the program, runs its top level
    inside a coroutine on a new loop, waits for tracked work, and maps the
    outcome to an exit code.  The engine's commands pass their own
    ``program_main(rt, code, module)`` coroutine function."""
    global _current
    main_file: str = options["main_file"]
    project_dir: str = options["project_dir"]

    try:
        with open(main_file, "rb") as f:
            source = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read '{main_file}': {exc.strerror}") from None
    try:
        import ast

        code = compile(source, main_file, "exec",
                       flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                       dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        report_failure(exc)
        return EXIT_FAILED

    loop = new_loop(options.get("loop") or "asyncio")
    asyncio.set_event_loop(loop)

    # The program becomes __main__, as under python3 PROGRAM.
    module = types.ModuleType("__main__")
    module.__file__ = main_file
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    sys.path.insert(0, project_dir)

    if options.get("threads"):
        import _outrun

        _outrun.configure_pool(options["threads"])
    rt = Runtime(loop)
    rt.debug_pending = options.get("debug_pending")
    previous, _current = _current, rt
    original_run = asyncio.run
    asyncio.run = _asyncio_run_guard(original_run)  # type: ignore[assignment]
    restore_interrupts = rt.install_interrupts()
    restore_sigquit = rt.install_sigquit()
    stall_ms = options.get("stall_warning_ms")
    stalls = StallWatch(loop, stall_ms) if stall_ms else None
    rt.stall_watch = stalls
    exit_code = EXIT_FAILED
    try:
        rt.main_task = loop.create_task(
            (program_main or _program_main)(rt, code, module))
        rt.take_pending_signal()
        exit_code = _finish(rt)
    finally:
        # Ctrl-C stays routed to the run while the leftover tasks run their
        # cleanup, so that a second one still exits at once.  The stall
        # watchdog stops first: shutting down is the host's wait, not a
        # stall of the program's.
        try:
            if stalls is not None:
                stalls.stop()
        finally:
            try:
                exit_code = _close(rt, exit_code,
                                   not options.get("keep_pool"))
            finally:
                restore_interrupts()
                restore_sigquit()
                asyncio.run = original_run  # type: ignore[assignment]
                _current = previous
    return exit_code


async def _program_main(rt: Runtime, code: types.CodeType,
                        module: types.ModuleType) -> None:
    rt.attach_outputs()
    result = eval(code, module.__dict__)
    if asyncio.iscoroutine(result):
        # The program used top-level await.
        await result
    await rt.wait_for_tracked()


def _finish(rt: Runtime) -> int:
    """Runs the main task to the end and turns its outcome into an exit
    code, reporting failures with the user's frames only."""
    try:
        rt.loop.run_until_complete(rt.main_task)  # type: ignore[arg-type]
    except SystemExit as exc:
        return exit_code_of(exc)
    except KeyboardInterrupt:
        rt.report_interrupted()
        return rt.exit_code_interrupted()
    except asyncio.CancelledError:
        if rt.interrupted:
            rt.report_interrupted()
            return rt.exit_code_interrupted()
        print("outrun: the program's main task was cancelled",
              file=sys.stderr)
        return EXIT_FAILED
    except BaseException as exc:  # noqa: BLE001 - reported to the user
        report_failure(exc)
        # Outputs that failed before the program did are failures too.
        rt.take_output_failures()
        for other in rt.failed:
            if other is not exc:
                report_failure(other)
        return EXIT_FAILED
    if rt.interrupted:
        rt.report_interrupted()
        return rt.exit_code_interrupted()
    if rt.failed:
        for exc in rt.failed:
            report_failure(exc)
        return EXIT_FAILED
    return EXIT_OK


def _close(rt: Runtime, exit_code: int, stop_pool: bool = True) -> int:
    """Closes the run's loop once the program is over and returns the exit
    code: Ctrl-C while the leftover tasks run their cleanup stops the wait
    (130), and sys.exit() in that cleanup gives its code."""
    interrupted_before = rt.interrupted
    try:
        rt.close(stop_pool=stop_pool)
    except KeyboardInterrupt:
        if not interrupted_before:
            rt.report_interrupted()
        return rt.exit_code_interrupted()
    except SystemExit as exc:
        return exit_code_of(exc)
    return exit_code


def exit_code_of(exc: SystemExit) -> int:
    """The exit code python3 would give for an uncaught SystemExit."""
    code = exc.code
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return EXIT_FAILED


def _keep_frame(frame: traceback.FrameSummary) -> bool:
    filename = os.path.abspath(frame.filename)
    return not (filename.startswith(_SDK_DIR + os.sep)
                or filename.startswith(_ASYNCIO_DIR + os.sep))


def _user_frames_only(te: traceback.TracebackException,
                      seen: set[int]) -> None:
    if id(te) in seen:
        return
    seen.add(id(te))
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if _keep_frame(f)])
    for chained in (te.__cause__, te.__context__):
        if chained is not None:
            _user_frames_only(chained, seen)
    for sub in getattr(te, "exceptions", None) or ():
        _user_frames_only(sub, seen)


def report_failure(exc: BaseException) -> None:
    """Prints exc's traceback the way python3 would, without the frames of
    the host, the SDK or asyncio."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__,
                                      compact=True)
    _user_frames_only(te, set())
    sys.stderr.write("".join(te.format()))
    sys.stderr.flush()
