"""``outrun run PROGRAM``: compiles the program, runs its top level inside
a coroutine on a new loop (outrun/_loop.py's runtime), waits for the work
it tracks, and turns the outcome into an exit code.  The engine's commands
run their program through it too, with a main coroutine of their own."""

from __future__ import annotations

import ast
import asyncio
import os
import site
import sys
import types
from collections.abc import Callable, Coroutine
from typing import Any

import _outrun

from outrun import _loop
from outrun._loop import EXIT_FAILED, EXIT_OK, Runtime
from outrun._options import RunOptions, UsageError

#: The coroutine function that runs a program on its runtime:
#: ``program_main(rt, code, module)``.
ProgramMain = Callable[[Runtime, types.CodeType, types.ModuleType],
                       Coroutine[Any, Any, None]]

ASYNCIO_RUN_MESSAGE = (
    "asyncio.run() cannot be used inside an outrun program: the host "
    "already runs an event loop. Use `await` at the top level or in an "
    "async function, `Output.from_input(coro)` to turn a coroutine into an "
    "Output, or hand an `async def main()` to `outrun.run(main)`."
)


def find_venv(project_dir: str) -> str | None:
    """The virtual environment of a run of the project in project_dir,
    found as the host finds it for ``outrun run`` (runtime/layout.c):
    VIRTUAL_ENV's, else project_dir/.venv, else project_dir/venv, made for
    the embedded Python (else a usage error).  None outside the host."""
    host = _loop.HOST
    if host is None:
        return None
    try:
        venv: str | None = host.find_venv(project_dir)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return venv


def use_venv(venv: str | None) -> None:
    """Makes venv's packages importable, unless it is the interpreter's own
    environment already (the host started in it: ``outrun run``, or
    VIRTUAL_ENV)."""
    if venv is None or os.path.realpath(sys.prefix) == \
            os.path.realpath(venv):
        return
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    packages = os.path.join(venv, "lib", ver, "site-packages")
    if os.path.isdir(packages):
        site.addsitedir(packages)


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    """Creates the event loop the run uses, explicitly: never implied."""
    if name == "uvloop":
        try:
            # Only --loop uvloop pays for the import.
            import uvloop
        except ImportError:
            raise UsageError(
                "--loop uvloop needs the uvloop package, which is not "
                f"installed for {sys.executable}; install it with "
                f"'{sys.executable} -m pip install uvloop', or drop --loop"
            ) from None
        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop
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


def _compile(main_file: str) -> types.CodeType:
    """The program's code, top-level await allowed.  A file that cannot be
    read is a usage error; SyntaxError and ValueError propagate."""
    try:
        with open(main_file, "rb") as f:
            source = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read '{main_file}': {exc.strerror}") from None
    return compile(source, main_file, "exec",
                   flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)


def _main_module(main_file: str, project_dir: str) -> types.ModuleType:
    """The program becomes __main__, as under python3 PROGRAM, with its
    folder first on sys.path."""
    module = types.ModuleType("__main__")
    module.__file__ = main_file
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    sys.path.insert(0, project_dir)
    return module


def run_program(options: RunOptions,
                program_main: ProgramMain | None = None) -> int:
    """Runs ``outrun run PROGRAM``: compiles the program, runs its top level
    inside a coroutine on a new loop, waits for tracked work, and maps the
    outcome to an exit code.  The engine's commands pass their own
    ``program_main(rt, code, module)`` coroutine function."""
    main_file, project_dir = options.main_file, options.project_dir
    assert main_file is not None and project_dir is not None
    # First: the environment may hold what the rest imports (uvloop).
    use_venv(options.venv)
    try:
        code = _compile(main_file)
    except (SyntaxError, ValueError) as exc:
        _loop.report_failure(exc)
        return EXIT_FAILED

    loop = new_loop(options.loop)
    asyncio.set_event_loop(loop)
    module = _main_module(main_file, project_dir)
    if options.threads:
        _outrun.configure_pool(options.threads)
    rt = Runtime(loop)
    rt.debug_pending = options.debug_pending
    previous = _loop.set_current(rt)
    original_run = asyncio.run
    asyncio.run = _asyncio_run_guard(original_run)
    restore_interrupts = rt.install_interrupts()
    restore_sigquit = rt.install_sigquit()
    stall_ms = options.stall_warning_ms
    stalls = _loop.StallWatch(loop, stall_ms) if stall_ms else None
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
                exit_code = _close(rt, exit_code, not options.keep_pool)
            finally:
                restore_interrupts()
                restore_sigquit()
                asyncio.run = original_run
                _loop.set_current(previous)
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
    assert rt.main_task is not None
    try:
        rt.loop.run_until_complete(rt.main_task)
    except SystemExit as exc:
        return _loop.exit_code_of(exc)
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
        _loop.report_failure(exc)
        # Outputs that failed before the program did are failures too.
        rt.take_output_failures()
        for other in rt.failed:
            if other is not exc:
                _loop.report_failure(other)
        return EXIT_FAILED
    if rt.interrupted:
        rt.report_interrupted()
        return rt.exit_code_interrupted()
    if rt.failed:
        for failure in rt.failed:
            _loop.report_failure(failure)
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
        return _loop.exit_code_of(exc)
    return exit_code
