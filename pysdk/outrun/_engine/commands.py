"""The engine's commands: ``outrun preview``, ``up`` and ``destroy`` run
here; ``stack`` and ``config`` in outrun/_engine/stack_commands.py.

The host has parsed the run options already (runtime/cli.c); these
commands parse their own flags, find the project and its environment, and
complete the one :class:`~outrun._options.RunOptions` that the program
runner (outrun/_runner.py) runs the program with."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Any

import _outrun

from outrun import _loop, _monitor, _runner
from outrun import _secrets as secrets_mod
from outrun._engine import deployment as deployment_mod
from outrun._engine import state as state_mod
from outrun._engine.display import LiveDisplay, format_duration, make_display
from outrun._engine.project import (
    EXIT_PIPE_CLOSED,
    Project,
    add_common,
    exit_code_of_errors,
    find_project,
    open_store,
    stack_name,
    state_path,
)
from outrun._loop import Runtime
from outrun._options import RunOptions, UsageError

#: The most --parallel takes: far more than any provider or API allows
#: at once, and small enough to be a number someone meant.
PARALLEL_MAX = 100_000

#: The steps a first Ctrl-C's message lists one by one; more are counted.
WAITING_SHOWN = 10


def main(options: RunOptions) -> int:
    """Runs preview, up or destroy (options.command); returns the exit
    code."""
    assert options.command in ("preview", "up", "destroy"), options.command
    return exit_code_of_errors(lambda: deploy(options))


# --------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------


_DESCRIPTIONS = {
    "preview": "Shows what `outrun up` would do, without changing "
               "anything.",
    "up": "Creates, updates, replaces and deletes resources so that the "
          "stack matches the program.",
    "destroy": "Deletes every resource of the stack, dependents first.",
}


class _HelpShowsRunOptions(argparse.ArgumentParser):
    """The parser of a command's own flags, whose help and usage list the
    run options too, from ``shown``: the host parsed those already
    (runtime/cli.c), so this parser must not take them."""

    def __init__(self, shown: argparse.ArgumentParser,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shown = shown

    def format_usage(self) -> str:
        return self.shown.format_usage()

    def format_help(self) -> str:
        return self.shown.format_help()


def _add_flags(p: argparse.ArgumentParser, command: str,
               run_options: bool) -> None:
    """The command's flags, and (run_options) the host's, for the help."""
    add_common(p)
    p.add_argument("-p", "--parallel", type=_parallel_count,
                   default=_outrun.THREADS_DEFAULT, metavar="N",
                   help="at most N provider operations at once (default "
                        f"{_outrun.THREADS_DEFAULT})")
    p.add_argument("--json", action="store_true",
                   help="print one JSON event per line")
    if run_options:
        p.add_argument("--loop", choices=("asyncio", "uvloop"),
                       default="asyncio", help="the event loop")
        p.add_argument("--debug-pending", nargs="?", metavar="S",
                       help="say what the run waits for when nothing "
                            "settles for S seconds "
                            f"({_outrun.DEBUG_PENDING_DEFAULT_S:g} by "
                            "default, as for outrun run)")
        p.add_argument("--stall-warning", metavar="MS",
                       help="warn when the event loop is stuck for MS "
                            "milliseconds (default "
                            f"{_outrun.STALL_WARNING_DEFAULT_MS:g}; 0 turns "
                            "it off)")
        p.add_argument("--threads", metavar="N",
                       help="native pool threads for blocking providers "
                            "(default: OUTRUN_THREADS, else "
                            f"{_outrun.THREADS_DEFAULT})")
    if command == "destroy":
        p.add_argument("-y", "--yes", action="store_true",
                       help="do not ask for confirmation on a terminal")


def _parser(command: str) -> argparse.ArgumentParser:
    prog, description = f"outrun {command}", _DESCRIPTIONS[command]
    shown = argparse.ArgumentParser(prog=prog, description=description)
    _add_flags(shown, command, run_options=True)
    p = _HelpShowsRunOptions(shown, prog=prog, description=description)
    _add_flags(p, command, run_options=False)
    return p


def _parallel_count(text: str) -> int:
    """--parallel's value."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= PARALLEL_MAX:
        raise argparse.ArgumentTypeError(
            f"takes a number from 1 to {PARALLEL_MAX}, not '{text}'")
    return n


def _complete(options: RunOptions) -> tuple[RunOptions, Project]:
    """options with the command's own flags parsed, the project found and
    its virtual environment (as `outrun run` finds it) chosen."""
    args = _parser(options.command).parse_args(options.args)
    stack = stack_name(args.stack)
    project = find_project(args.cwd)
    options = options._replace(
        stack=stack, parallel=args.parallel, json=args.json,
        yes=getattr(args, "yes", False), main_file=project.main_file,
        project_dir=project.dir, venv=_runner.find_venv(project.dir),
        # The host stops the pool when it exits; a process that runs
        # several commands (tests, tools) keeps it for the next one.
        keep_pool=True)
    return options, project


# --------------------------------------------------------------------------
# preview, up, destroy
# --------------------------------------------------------------------------


@dataclass
class _Deploy:
    """One preview, up or destroy: its options (options.command is the
    kind), project, store and display, the state read before the program
    starts, and how it ended."""

    options: RunOptions
    project: Project
    store: Any
    display: Any = None
    config: Any = field(default_factory=dict)
    # (old resources, provider blobs, the live holder a preview runs
    # beside), for Deployment.load.
    preloaded: tuple[Any, Any, Any] = ({}, {}, None)
    outcome: dict[str, Any] = field(
        default_factory=lambda: {"result": "failed", "counts": {}})

    @property
    def kind(self) -> str:
        return self.options.command

    @property
    def stack(self) -> str:
        assert self.options.stack is not None
        return self.options.stack

    def new_deployment(self, rt: Runtime) -> Any:
        return deployment_mod.Deployment(
            kind=self.kind, project=self.project.name, stack=self.stack,
            store=self.store, display=self.display,
            parallel=self.options.parallel, config=self.config,
            loop=rt.loop)

    def summary(self, dep: Any, result: str, outputs: dict[str, Any],
                failures: list[tuple[str, str]]) -> _Summary:
        return _Summary(
            kind=self.kind, stack=self.stack, project=self.project.name,
            result=result, counts=dict(dep.counts),
            duration=time.monotonic() - dep.started_at, outputs=outputs,
            failures=failures, skipped=dep.skipped,
            warnings=list(dep.warnings))


def deploy(options: RunOptions) -> int:
    options, project = _complete(options)
    kind, stack = options.command, options.stack
    assert stack is not None
    if kind != "up" and not os.path.exists(state_path(project)):
        if kind == "destroy":
            raise UsageError(f"there is no stack '{stack}' in "
                             f"{project.dir}: nothing was deployed there")
        # Nothing was deployed yet: everything is to be created.
        return _run(_Deploy(options, project, None))
    store = open_store(project, stack, create=kind != "preview")
    try:
        if kind == "up":
            store.create_stack(stack)
        elif not store.has_stack(stack):
            if kind == "destroy":
                raise UsageError(f"there is no stack '{stack}' in "
                                 f"{project.dir}; `outrun stack ls` lists "
                                 "the stacks")
        if kind == "destroy" and not options.yes and sys.stdin.isatty() \
                and sys.stdout.isatty() and not options.json:
            answer = input(f"Delete every resource of stack '{stack}'? "
                           "Type the stack's name to confirm: ")
            if answer.strip() != stack:
                print("Nothing was deleted.")
                return 1
        lock = store.lock(stack, kind) if kind != "preview" else None
        try:
            if lock is not None and getattr(lock, "cleared_stale", None):
                print(f"outrun: note: cleared a stale lock: "
                      f"{lock.cleared_stale}", file=sys.stderr)
            return _run(_Deploy(options, project, store))
        finally:
            if lock is not None:
                lock.release()
    finally:
        store.close()


def _read_state(run: _Deploy) -> bool:
    """Reads the stack's state before the program starts, into run: a
    state that cannot be read stops the command here, with nothing done
    (then returns False, having said so)."""
    store, stack = run.store, run.stack
    old: Any = {}
    providers: Any = {}
    if store is not None and store.has_stack(stack):
        try:
            run.config = store.config(stack)
            old = store.resources(stack)
            providers = store.providers(stack)
        except state_mod.CorruptStateError as exc:
            # A damaged row: the run ends as every failed run does, with
            # the summary (plain or --json) naming it.
            display = make_display(run.kind, stack, run.project.name,
                                   json_mode=run.options.json)
            display.start()
            display.finish(_Summary(
                kind=run.kind, stack=stack, project=run.project.name,
                result="failed", counts={}, duration=0.0, outputs={},
                failures=[("state", str(exc))], skipped=0, warnings=[]))
            display.close()
            print(f"outrun: error: {exc}", file=sys.stderr)
            return False
    # A preview takes no lock, so it can run beside an up: what that up
    # has in flight is not the leftover of a run that died.
    running = store.live_holder(stack) \
        if run.kind == "preview" and store is not None else None
    run.preloaded = (old, providers, running)
    return True


def _run(run: _Deploy) -> int:
    if not _read_state(run):
        return 1
    kind, store = run.kind, run.store
    run.display = make_display(kind, run.stack, run.project.name,
                               json_mode=run.options.json)
    run_id = store.begin_run(run.stack, kind) if kind != "preview" else None

    async def program_main(rt: Runtime, code: types.CodeType,
                           module: types.ModuleType) -> None:
        if kind == "destroy":
            await _destroy_main(rt, code, module, run)
        else:
            await _engine_main(rt, code, module, run)

    try:
        # What the run writes to stdout and stderr (tracebacks, messages,
        # the program's prints) masks the secrets it knows (outrun/_secrets.py).
        with secrets_mod.masked_streams():
            exit_code = _runner.run_program(run.options,
                                            program_main=program_main)
    finally:
        run.display.close()
        if run_id is not None:
            store.end_run(run_id, run.outcome["result"],
                          run.outcome["counts"])
    return exit_code


async def _engine_main(rt: Runtime, code: types.CodeType,
                       module: types.ModuleType, run: _Deploy) -> None:
    """preview and up: runs the program with the deployment as the
    registration interface, then deletes what it no longer declares."""
    rt.attach_outputs()
    dep = run.new_deployment(rt)
    dep.beat = rt.stall_beat
    _when_display_lost(dep, run.display)
    # What was loaded so far (the state's records above all) lives to the
    # end: the cyclic collector need not walk it again and again.
    gc.freeze()
    run.display.start()
    dep.load(*run.preloaded)
    _monitor.active = dep
    try:
        interrupted, program_error = await _program_and_steps(
            rt, code, module, dep, run.display)
        if interrupted or program_error is not None:
            # Steps already running finish, and are saved.
            while dep.in_flight or dep.to_resolve or dep.flush_scheduled:
                await asyncio.sleep(0.01)
            rt.take_output_failures()
        else:
            try:
                await dep.delete_removed()
            except (KeyboardInterrupt, asyncio.CancelledError):
                interrupted = True
        shown = {}
        if not interrupted and program_error is None:
            shown = await dep.finish_outputs()
        else:
            dep.flush_now()
    finally:
        _monitor.active = None
    _end_engine_run(rt, run, dep, interrupted, program_error, shown)


async def _program_and_steps(
        rt: Runtime, code: types.CodeType, module: types.ModuleType,
        dep: Any, display: Any) -> tuple[bool, BaseException | None]:
    """Runs the program's top level, then waits until its tracked work
    and every step it declared have settled.  Returns (interrupted, the
    program's error); either stops the deployment."""
    try:
        result = eval(code, module.__dict__)
        if asyncio.iscoroutine(result):
            await result
        while True:
            await rt.wait_for_tracked()
            if not dep.unsettled:
                break
            await dep.wait_idle()
    except (KeyboardInterrupt, asyncio.CancelledError):
        dep.stop()
        _tell_waiting(dep, display)
        return True, None
    except BaseException as exc:  # noqa: BLE001 - reported by the caller
        dep.stop()
        return False, exc
    return False, None


def _end_engine_run(rt: Runtime, run: _Deploy, dep: Any, interrupted: bool,
                    program_error: BaseException | None,
                    shown: dict[str, Any]) -> None:
    """Reports how a preview or up went (tracebacks, the summary) and
    ends it: KeyboardInterrupt when interrupted, SystemExit with the exit
    code otherwise unless it succeeded."""
    if dep.fatal is not None:
        print(f"outrun: error: {dep.fatal}", file=sys.stderr)
    user_failures = [e for e in rt.failed
                     if not isinstance(e, deployment_mod.EngineFailure)]
    rt.failed.clear()
    for failure in user_failures:
        _loop.report_failure(failure)
    exit_code = (_loop.exit_code_of(program_error)
                 if isinstance(program_error, SystemExit) else 0)
    if program_error is not None and not isinstance(program_error,
                                                    SystemExit):
        _loop.report_failure(program_error)
    failed = bool(dep.failures or user_failures or dep.fatal or exit_code
                  or (program_error is not None
                      and not isinstance(program_error, SystemExit)))
    result = ("interrupted" if interrupted or run.display.lost is not None
              else "failed" if failed else "succeeded")
    # The program's own errors are failures of the run too: the summary
    # (and --json's) says what they were, beside the tracebacks on stderr.
    describe = deployment_mod.describe_error
    program_failures = [("program", describe(e)) for e in user_failures]
    if exit_code:
        program_failures.append(("program", f"sys.exit({exit_code})"))
    elif program_error is not None and not isinstance(program_error,
                                                      SystemExit):
        program_failures.insert(0, ("program", describe(program_error)))
    run.outcome["result"] = result
    run.outcome["counts"] = dict(dep.counts)
    run.outcome["peak_in_flight"] = dep.peak_in_flight
    run.display.finish(run.summary(
        dep, result, shown, list(dep.failures) + program_failures))
    if run.display.lost is not None and not interrupted:
        raise SystemExit(_display_lost_exit(run.kind, run.display, dep))
    if interrupted:
        raise KeyboardInterrupt
    if exit_code:
        raise SystemExit(exit_code)
    if failed:
        raise SystemExit(1)


async def _destroy_main(rt: Runtime, code: types.CodeType,
                        module: types.ModuleType, run: _Deploy) -> None:
    """destroy: deletes every resource of the stack, dependents first;
    the program runs only to define the providers it holds."""
    rt.attach_outputs()
    dep = run.new_deployment(rt)
    display = run.display
    _when_display_lost(dep, display)
    display.start()
    dep.load(*run.preloaded)
    interrupted = False
    if dep.providers_from_program():
        await _define_providers(dep, code, module)
    try:
        await dep.delete_removed()
    except (KeyboardInterrupt, asyncio.CancelledError):
        interrupted = True
    if dep.writer is not None:
        if not dep.failures and not interrupted:
            dep.writer.set_outputs({}, frozenset())
        dep.flush_now()
    if dep.fatal is not None:
        print(f"outrun: error: {dep.fatal}", file=sys.stderr)
    failed = bool(dep.failures or dep.fatal)
    result = ("interrupted" if interrupted or display.lost is not None
              else "failed" if failed else "succeeded")
    run.outcome["result"] = result
    run.outcome["counts"] = dict(dep.counts)
    display.finish(run.summary(dep, result, {}, list(dep.failures)))
    if display.lost is not None and not interrupted:
        raise SystemExit(_display_lost_exit(run.kind, display, dep))
    if interrupted:
        raise KeyboardInterrupt
    if failed:
        raise SystemExit(1)


async def _define_providers(dep: Any, code: types.CodeType,
                            module: types.ModuleType) -> None:
    """destroy, when a provider class is defined in the program itself:
    runs the program so that the class exists, with its resources
    ignored (they read as unknown, so applies on them do not run)."""
    dep.display.diag("info", "running the program to define the providers "
                             "it holds; its resources are not registered")
    dep.definitions_only = True
    _monitor.active = dep
    try:
        result = eval(code, module.__dict__)
        if asyncio.iscoroutine(result):
            await result
    except Exception as exc:  # noqa: BLE001 - reported, destroy goes on
        dep.warn(f"the program failed while defining its providers: "
                 f"{deployment_mod.describe_error(exc)}")
    finally:
        _monitor.active = None
        dep.definitions_only = False
    dep.forget_providers()


@dataclass
class _Summary:
    kind: str
    stack: str
    project: str
    result: str
    counts: dict[str, int]
    duration: float
    outputs: dict[str, Any]
    failures: list[tuple[str, str]]
    skipped: int
    warnings: list[str]


# --------------------------------------------------------------------------
# What the run says when it stops early
# --------------------------------------------------------------------------


def _when_display_lost(dep: Any, display: Any) -> None:
    """A display that can no longer write (its reader left, the disk or the
    file size limit is full) stops the run as a first Ctrl-C does: no new
    step starts, those in flight finish and are saved."""
    def lost(exc: BaseException) -> None:
        dep.stop()

    display.on_lost(lost)


def _display_lost_exit(kind: str, display: Any, dep: Any) -> int:
    """Says on stderr why the run stopped early; returns the exit code."""
    exc = display.lost
    left = (f"; {dep.skipped} step{'s' if dep.skipped != 1 else ''} did "
            "not start" if dep.skipped else "")
    again = "" if kind == "preview" else f" Run `outrun {kind}` again to finish."
    done = ("the preview stopped" if kind == "preview" else
            f"the run stopped: the steps already running finished and "
            f"were saved{left}.{again}")
    if isinstance(exc, BrokenPipeError):
        message = (f"outrun: standard output was closed by its reader (a "
                   f"pipe into `head`, say), so {done}")
        code = EXIT_PIPE_CLOSED
    else:
        message = (f"outrun: error: cannot write to standard output "
                   f"({describe_os_error(exc)}), so {done}")
        code = 1
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
    return code


def describe_os_error(exc: BaseException | None) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return deployment_mod.describe_error(exc) if exc is not None else "?"


def _tell_waiting(dep: Any, display: Any) -> None:
    """A first Ctrl-C: says at once what the run waits for (each step in
    flight, the provider method it runs and for how long) and that a
    second Ctrl-C stops now.  Without it the run looked stuck for as long
    as the slowest step took."""
    n = dep.in_flight
    if not n:
        return
    now = time.monotonic()
    running = sorted(getattr(dep, "running", ()), key=lambda s: s.started)
    steps = "step" if n == 1 else "steps"
    lines = [f"outrun: interrupted: no new step starts; waiting for the {n} "
             f"{steps} in flight to finish, so that what they do is saved:"]
    for step in running[:WAITING_SHOWN]:
        res = step.__dict__.get("res")
        what = type(res).__name__ if res is not None else step.type
        method = getattr(step, "calling", None)
        if method is not None:
            provider = type(step.provider).__name__
            call = f"{provider}.{method}()"
            since = getattr(step, "call_started", 0.0) or step.started
        else:
            call, since = "between provider calls", step.started
        lines.append(f"    {step.op or 'plan'} of '{step.name}' ({what}): "
                     f"{call}, running for {format_duration(now - since)}")
    if len(running) > WAITING_SHOWN:
        lines.append(f"    ... and {len(running) - WAITING_SHOWN} more")
    lines.append("Press Ctrl-C again to stop now: what those steps do is "
                 "then not saved, and the next run reports them as "
                 "possibly left behind.")
    text = "\n".join(lines)
    if isinstance(display, LiveDisplay) and display.lost is None:
        # Above the live view's block, which is redrawn below it.
        display.diag("info", text)
        return
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
