"""The loop runtime of one run: its event loop, the work the SDK tracks,
the stop signals, the stall watchdog, the tracebacks the user sees and the
exit codes.

It serves ``outrun run`` and the engine's commands (through
outrun/_runner.py) and :func:`run` from plain Python alike, so that a
program written as ``outrun.run(main)`` behaves the same under
``outrun run`` and under ``python3``.  It imports no module of the SDK
above it: the command line (outrun/_cli.py), the program runner and the
engine call into it, never the other way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import site
import sys
import threading
import traceback
import types
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import _outrun

try:
    import _outrun_host

    #: The host's built-in module (runtime/host.c); None under python3.
    HOST: types.ModuleType | None = _outrun_host
except ImportError:
    HOST = None

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_SDK_DIR = os.path.dirname(os.path.abspath(__file__))
_ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__))
_SELECTORS_FILE = os.path.abspath(getattr(sys.modules.get("selectors"),
                                          "__file__", "") or "")

# The signals that stop a run inside the host, all the way Ctrl-C does.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def stopped_message(sig: int) -> str:
    """What stderr says of a run a stop signal ended."""
    return ("outrun: interrupted" if sig == signal.SIGINT
            else f"outrun: stopped by {signal.Signals(sig).name}")

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
        # --stall-warning's watchdog, if on (see stall_beat).
        self.stall_watch: StallWatch | None = None
        # --debug-pending: what else the run waits on (the engine's steps),
        # as report text, and as progress marks that change when it moves.
        self.pending_reporters: list[Callable[[], str]] = []
        self.progress_marks: list[Callable[[], Any]] = []
        self.pending_watch: asyncio.Task[None] | None = None

    @property
    def stall_beat(self) -> Callable[[], None] | None:
        """Tells the stall watchdog that the loop thread is making progress
        (the engine calls it while a program declares thousands of
        resources in one go, which is work, not a stall); None when
        --stall-warning is off."""
        watch = self.stall_watch
        return watch.beat if watch is not None else None

    # Outputs ----------------------------------------------------------------

    def attach_outputs(self) -> None:
        """Takes charge of the Outputs of this loop: their failures are kept
        for the end of the run instead of being reported one by one.  Call
        on the loop, before the program makes any Output."""
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

        def restore() -> None:
            signal.signal(signal.SIGQUIT, previous)

        return restore

    # Ctrl-C ----------------------------------------------------------------

    def install_interrupts(self) -> Callable[[], None]:
        """Routes SIGINT (and, inside the host, SIGTERM and SIGHUP) to this
        run; returns a function that undoes it."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        host = HOST
        wanted = (signal.SIGINT,) if host is None else STOP_SIGNALS
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
            if host is not None:
                # The host's C handler goes in front: a second signal exits
                # at once even when the loop thread is stuck in native
                # code.  A signal of the start-up is this run's first.
                self.pending_signal = host.arm_interrupts(sigs)
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
                if host_held and host is not None:
                    host.defer_interrupts(host_held)
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
        print(stopped_message(self.signal or signal.SIGINT),
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
                    _outrun.shutdown(_outrun.SHUTDOWN_GRACE_S)
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
        self.loop = loop
        self.watchdog = _outrun.Watchdog(threshold_ms, self.library_dirs())
        # The loop is here: the beat its callback gives, and that long
        # work on the loop thread which is progress gives too.
        self.beat: Callable[[], None] = self.watchdog.beat
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


def set_current(rt: Runtime | None) -> Runtime | None:
    """Makes rt the run in progress (None: no run); returns the one it
    replaces, for the caller to put back when rt ends."""
    global _current
    previous, _current = _current, rt
    return previous


def in_progress() -> Runtime | None:
    """The runtime of the run in progress, from any thread (a provider's
    call on a pool thread asks whether a stop signal ended the run)."""
    return _current


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
        # Here, not at the top: a program that never calls outrun.run
        # does not pay for the registration interface at start-up.
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
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    rt = Runtime(loop)
    previous = set_current(rt)

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
        set_current(previous)
        rt.close()


# --------------------------------------------------------------------------
# Exit codes and tracebacks
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Stop signals for the commands that run no program
# --------------------------------------------------------------------------


def interruptible(command: Callable[[], int]) -> int:
    """Runs an SDK command that runs no program (bench, stack, config)
    with the stop signals raising KeyboardInterrupt in it, once the host
    has finished starting: the command stops and the exit code is 128 +
    the signal's number.  A second signal exits at once (the host)."""
    host = HOST
    if host is None:
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
        pending = host.arm_interrupts(sigs)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)
    try:
        if pending:
            stopped.append(pending)
            raise KeyboardInterrupt
        return command()
    except KeyboardInterrupt:
        sig = stopped[0] if stopped else signal.SIGINT
        print(stopped_message(sig), file=sys.stderr)
        return 128 + sig
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
        try:
            for s in sigs:
                signal.signal(s, signal.SIG_DFL)
            host.defer_interrupts(sigs)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)


