"""The engine's commands: ``outrun preview``, ``up``, ``destroy``,
``stack ls|output|rm`` and ``config [set|get|rm]``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import sys
import time
import types
from dataclasses import dataclass
from typing import Any

from outrun import _monitor
from outrun._engine import deployment as deployment_mod
from outrun import _secrets as secrets_mod
from outrun._engine import state as state_mod

# At most this many provider operations run at once unless --parallel says
# otherwise: as many as the native pool has threads, so that blocking
# providers all make progress at once, and few enough that a program with
# thousands of resources does not fire thousands of API calls together.
DEFAULT_PARALLEL = 64
DEFAULT_STACK = "dev"
PROJECT_FILE = "outrun.toml"

_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class UsageError(Exception):
    """Wrong use of a command; exit code 2."""


@dataclass
class Project:
    name: str
    dir: str
    main_file: str


def find_project(directory: str | None) -> Project:
    """The project in directory (default: the current one): its
    outrun.toml's ``main`` (and ``name``), else its __main__.py."""
    root = os.path.abspath(directory or os.getcwd())
    if not os.path.isdir(root):
        raise UsageError(f"'{root}' is not a folder; give -C the folder of "
                         "a project")
    name = os.path.basename(root) or "project"
    main = None
    cfg_path = os.path.join(root, PROJECT_FILE)
    if os.path.exists(cfg_path):
        import tomllib

        try:
            with open(cfg_path, "rb") as f:
                cfg = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"cannot read {cfg_path}: {exc}") from None
        name = str(cfg.get("name", name))
        if "main" in cfg:
            main = os.path.join(root, str(cfg["main"]))
            if not os.path.isfile(main):
                raise UsageError(
                    f"{cfg_path} names the program '{cfg['main']}', which "
                    f"is not a file in {root}")
    if main is None:
        candidate = os.path.join(root, "__main__.py")
        if not os.path.isfile(candidate):
            raise UsageError(
                f"no program in {root}: a project is a folder with a "
                f"__main__.py, or with an {PROJECT_FILE} whose `main` names "
                "the program file (and `name` the project); use -C DIR to "
                "point at another folder")
        main = candidate
    if not re.match(r"^[A-Za-z0-9_.-]+$", name):
        raise UsageError(f"the project name '{name}' may only hold letters, "
                         "digits, '_', '.' and '-'; set `name` in "
                         f"{PROJECT_FILE}")
    return Project(name=name, dir=root, main_file=main)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-C", "--cwd", dest="cwd", metavar="DIR",
                   help="the project folder (default: the current one)")
    p.add_argument("-s", "--stack", default=None,
                   help=f"the stack (default: {DEFAULT_STACK}, or "
                        "OUTRUN_STACK)")


def _stack_name(args: argparse.Namespace) -> str:
    if getattr(args, "stack", None) == "":
        raise UsageError("-s/--stack needs a stack name, and '' is empty; "
                         "leave the option out for the default stack")
    name = args.stack or os.environ.get("OUTRUN_STACK") or DEFAULT_STACK
    if not _STACK_NAME.match(name):
        raise UsageError(f"'{name}' is not a valid stack name: use letters, "
                         "digits, '.', '_' and '-', starting with a letter "
                         "or digit")
    return name


def _parser(command: str) -> argparse.ArgumentParser:
    descriptions = {
        "preview": "Shows what `outrun up` would do, without changing "
                   "anything.",
        "up": "Creates, updates, replaces and deletes resources so that the "
              "stack matches the program.",
        "destroy": "Deletes every resource of the stack, dependents first.",
    }
    p = argparse.ArgumentParser(prog=f"outrun {command}",
                                description=descriptions[command])
    _add_common(p)
    p.add_argument("-p", "--parallel", type=_parallel_count,
                   default=DEFAULT_PARALLEL,
                   metavar="N",
                   help="at most N provider operations at once (default "
                        f"{DEFAULT_PARALLEL})")
    p.add_argument("--json", action="store_true",
                   help="print one JSON event per line")
    p.add_argument("--loop", choices=("asyncio", "uvloop"),
                   default="asyncio", help="the event loop")
    p.add_argument("--debug-pending", type=float, nargs="?", const=5.0,
                   default=None, metavar="S",
                   help="say what the run waits for when nothing settles "
                        "for S seconds (5 by default, as for outrun run)")
    p.add_argument("--stall-warning", type=_stall_ms, default=None,
                   metavar="MS",
                   help="warn when the event loop is stuck for MS "
                        "milliseconds (default 200; 0 turns it off)")
    p.add_argument("--threads", type=_thread_count, default=None,
                   metavar="N",
                   help="native pool threads for blocking providers "
                        "(default: OUTRUN_THREADS, else 64)")
    if command == "destroy":
        p.add_argument("-y", "--yes", action="store_true",
                       help="do not ask for confirmation on a terminal")
    return p


def _stall_ms(text: str) -> float:
    """--stall-warning's value: milliseconds, as `outrun run` takes them."""
    try:
        ms = float(text)
    except ValueError:
        ms = -1.0
    if not 0 <= ms <= 3_600_000:
        raise argparse.ArgumentTypeError(
            f"takes milliseconds from 0 (off) to 3600000, not '{text}'")
    return ms


#: The most --parallel takes: far more than any provider or API allows
#: at once, and small enough to be a number someone meant.
PARALLEL_MAX = 100_000


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


def _thread_count(text: str) -> int:
    """--threads's value, as `outrun run` takes it."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 1024:
        raise argparse.ArgumentTypeError(
            f"takes a number from 1 to 1024, not '{text}'")
    return n


def main(command: str, argv: list[str], options: dict[str, Any]) -> int:
    try:
        if command in ("preview", "up", "destroy"):
            return deploy(command, argv, options)
        if command == "stack":
            return stack_command(argv)
        if command == "config":
            return config_command(argv)
    except UsageError as exc:
        print(f"outrun: error: {exc}", file=sys.stderr)
        return 2
    except state_mod.StateError as exc:
        print(f"outrun: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `outrun stack output | head -1`: the reader has what it wanted.
        _stdout_to_devnull()
        return EXIT_PIPE_CLOSED
    raise AssertionError(command)


#: The exit code after standard output's reader went away: what a shell
#: shows for a process that SIGPIPE ended (128 + 13), as `yes | head`.
EXIT_PIPE_CLOSED = 141


def _stdout_to_devnull() -> None:
    """Points standard output at /dev/null, so that what is still
    buffered, and the interpreter's last flush, cannot fail again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, sys.stdout.fileno())
        finally:
            os.close(null)
    except (OSError, ValueError):
        pass


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


def _passphrase(stack: str) -> Any:
    # The store calls it as passphrase(stack, new) when it needs one.
    return state_mod.passphrase_from_env_or_prompt


def _open_store(project: Project, stack: str, create: bool) -> Any:
    return state_mod.Store.open(project.dir, create=create,
                                passphrase=_passphrase(stack))


def _add_venv(project: Project) -> None:
    """The project's .venv (if any) is importable, as under outrun run."""
    import site

    venv = os.path.join(project.dir, ".venv")
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    sp = os.path.join(venv, "lib", ver, "site-packages")
    if os.path.isdir(sp):
        site.addsitedir(sp)


def deploy(kind: str, argv: list[str], options: dict[str, Any]) -> int:
    args = _parser(kind).parse_args(argv)
    stack = _stack_name(args)
    project = find_project(args.cwd)
    if kind != "up" and not os.path.exists(
            os.path.join(project.dir, ".outrun", "state.db")):
        if kind == "destroy":
            raise UsageError(f"there is no stack '{stack}' in "
                             f"{project.dir}: nothing was deployed there")
        # Nothing was deployed yet: everything is to be created.
        return _run(kind, args, stack, project, None, options)
    store = _open_store(project, stack, create=kind != "preview")
    try:
        if kind == "up":
            store.create_stack(stack)
        elif not store.has_stack(stack):
            if kind == "destroy":
                raise UsageError(f"there is no stack '{stack}' in "
                                 f"{project.dir}; `outrun stack ls` lists "
                                 "the stacks")
        if kind == "destroy" and not args.yes and sys.stdin.isatty() \
                and sys.stdout.isatty() and not args.json:
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
            return _run(kind, args, stack, project, store, options)
        finally:
            if lock is not None:
                lock.release()
    finally:
        store.close()


def _run(kind: str, args: argparse.Namespace, stack: str, project: Project,
         store: Any, options: dict[str, Any]) -> int:
    from outrun._engine.display import make_display
    from outrun import _host

    config: Any = {}
    old: Any = {}
    providers: Any = {}
    if store is not None and store.has_stack(stack):
        # Read everything before the program starts: a state that cannot
        # be read stops the command here, with nothing done.
        try:
            config = store.config(stack)
            old = store.resources(stack)
            providers = store.providers(stack)
        except state_mod.CorruptStateError as exc:
            # A damaged row: the run ends as every failed run does, with
            # the summary (plain or --json) naming it.
            display = make_display(kind, stack, project.name,
                                   json_mode=args.json)
            display.start()
            display.finish(_Summary(
                kind=kind, stack=stack, project=project.name,
                result="failed", counts={}, duration=0.0, outputs={},
                failures=[("state", str(exc))], skipped=0, warnings=[]))
            display.close()
            print(f"outrun: error: {exc}", file=sys.stderr)
            return 1
    # A preview takes no lock, so it can run beside an up: what that up
    # has in flight is not the leftover of a run that died.
    running = store.live_holder(stack) \
        if kind == "preview" and store is not None else None
    preloaded = (old, providers, running)
    display = make_display(kind, stack, project.name, json_mode=args.json)
    run_id = store.begin_run(stack, kind) if kind != "preview" else None
    outcome: dict[str, Any] = {"result": "failed", "counts": {}}

    async def engine_main(rt: Any, code: types.CodeType,
                          module: types.ModuleType) -> None:
        await _engine_main(rt, code, module, kind, stack, project, store,
                           display, config, args.parallel, outcome,
                           preloaded)

    if kind == "destroy":
        code_main = _destroy_main(kind, stack, project, store, display,
                                  config, args.parallel, outcome, preloaded)
    else:
        code_main = engine_main
    _add_venv(project)
    run_options = {
        "main_file": project.main_file,
        "project_dir": project.dir,
        "loop": args.loop,
        "debug_pending": args.debug_pending,
        "threads": (args.threads if args.threads is not None
                    else options.get("threads")),
        "stall_warning_ms": (args.stall_warning
                             if args.stall_warning is not None
                             else options.get("stall_warning_ms")),
        # The host stops the pool when it exits; a process that runs
        # several commands (tests, tools) keeps it for the next one.
        "keep_pool": True,
    }
    try:
        # What the run writes to stdout and stderr (tracebacks, messages,
        # the program's prints) masks the secrets it knows (outrun/_secrets.py).
        with secrets_mod.masked_streams():
            exit_code = _host.run_program(run_options, program_main=code_main)
    finally:
        display.close()
        if run_id is not None:
            result = outcome["result"]
            store.end_run(run_id, result, outcome["counts"])
    return exit_code


async def _engine_main(rt: Any, code: types.CodeType,
                       module: types.ModuleType, kind: str, stack: str,
                       project: Project, store: Any, display: Any,
                       config: Any, parallel: int,
                       outcome: dict[str, Any], preloaded: Any) -> None:
    from outrun import _host

    rt.attach_outputs()
    dep = deployment_mod.Deployment(
        kind=kind, project=project.name, stack=stack, store=store,
        display=display, parallel=parallel, config=config, loop=rt.loop)
    if rt.stall_watch is not None:
        dep.beat = rt.stall_watch.watchdog.beat
    _when_display_lost(dep, display)
    # What was loaded so far (the state's records above all) lives to the
    # end: the cyclic collector need not walk it again and again.
    gc.freeze()
    display.start()
    dep.load(*preloaded)
    _monitor.active = dep
    program_error: BaseException | None = None
    interrupted = False
    try:
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
            interrupted = True
            dep.stop()
            _tell_waiting(dep, display)
        except BaseException as exc:  # noqa: BLE001 - reported below
            program_error = exc
            dep.stop()
        if interrupted or program_error is not None:
            # Steps already running finish, and are saved.
            while dep.in_flight or dep.to_resolve or dep.flush_scheduled:
                await asyncio.sleep(0.01)
            rt.take_output_failures()
        elif kind == "up" or kind == "preview":
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
    if dep.fatal is not None:
        print(f"outrun: error: {dep.fatal}", file=sys.stderr)
    user_failures = [e for e in rt.failed
                     if not isinstance(e, deployment_mod.EngineFailure)]
    rt.failed.clear()
    for exc in user_failures:
        _host.report_failure(exc)
    if program_error is not None and not isinstance(program_error,
                                                    SystemExit):
        _host.report_failure(program_error)
    failed = bool(dep.failures or user_failures or dep.fatal or (
        program_error is not None and not (
            isinstance(program_error, SystemExit)
            and _host.exit_code_of(program_error) == 0)))
    result = ("interrupted" if interrupted or display.lost is not None else
              "failed" if failed else "succeeded")
    # The program's own errors are failures of the run too: the summary
    # (and --json's) says what they were, beside the tracebacks on stderr.
    describe = deployment_mod.describe_error
    program_failures = [("program", describe(e)) for e in user_failures]
    if isinstance(program_error, SystemExit):
        code = _host.exit_code_of(program_error)
        if code:
            program_failures.append(("program", f"sys.exit({code})"))
    elif program_error is not None:
        program_failures.insert(0, ("program", describe(program_error)))
    outcome["result"] = result
    outcome["counts"] = dict(dep.counts)
    outcome["peak_in_flight"] = dep.peak_in_flight
    display.finish(_Summary(
        kind=kind, stack=stack, project=project.name, result=result,
        counts=dict(dep.counts),
        duration=time.monotonic() - dep.started_at, outputs=shown,
        failures=list(dep.failures) + program_failures,
        skipped=dep.skipped,
        warnings=list(dep.warnings)))
    if display.lost is not None and not interrupted:
        raise SystemExit(_display_lost_exit(kind, display, dep))
    if interrupted:
        raise KeyboardInterrupt
    if isinstance(program_error, SystemExit):
        code = _host.exit_code_of(program_error)
        if code:
            raise SystemExit(code)
    if failed:
        raise SystemExit(1)


#: The steps a first Ctrl-C's message lists one by one; more are counted.
WAITING_SHOWN = 10


def _tell_waiting(dep: Any, display: Any) -> None:
    """A first Ctrl-C: says at once what the run waits for (each step in
    flight, the provider method it runs and for how long) and that a
    second Ctrl-C stops now.  Without it the run looked stuck for as long
    as the slowest step took."""
    n = dep.in_flight
    if not n:
        return
    from outrun._engine.display import LiveDisplay, format_duration

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


def _destroy_main(kind: str, stack: str, project: Project, store: Any,
                  display: Any, config: Any, parallel: int,
                  outcome: dict[str, Any], preloaded: Any) -> Any:
    async def destroy_main(rt: Any, code: types.CodeType,
                           module: types.ModuleType) -> None:
        rt.attach_outputs()
        dep = deployment_mod.Deployment(
            kind=kind, project=project.name, stack=stack, store=store,
            display=display, parallel=parallel, config=config,
            loop=rt.loop)
        _when_display_lost(dep, display)
        display.start()
        dep.load(*preloaded)
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
        outcome["result"] = result
        outcome["counts"] = dict(dep.counts)
        display.finish(_Summary(
            kind=kind, stack=stack, project=project.name, result=result,
            counts=dict(dep.counts),
            duration=time.monotonic() - dep.started_at, outputs={},
            failures=list(dep.failures), skipped=dep.skipped,
            warnings=list(dep.warnings)))
        if display.lost is not None and not interrupted:
            raise SystemExit(_display_lost_exit(kind, display, dep))
        if interrupted:
            raise KeyboardInterrupt
        if failed:
            raise SystemExit(1)

    return destroy_main


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
# outrun stack ...
# --------------------------------------------------------------------------


def stack_command(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="outrun stack",
                                description="The project's stacks.")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    ls = sub.add_parser("ls", help="list the stacks")
    _add_common(ls)
    ls.add_argument("--json", action="store_true")
    out = sub.add_parser("output", help="show the stack's outputs")
    _add_common(out)
    out.add_argument("name", nargs="?", help="only this output")
    out.add_argument("--json", action="store_true")
    out.add_argument("--show-secrets", action="store_true",
                     help="show secret values instead of [secret]")
    rm = sub.add_parser("rm", help="remove a stack that has no resources")
    _add_common(rm)
    rm.add_argument("stack_name", nargs="?", metavar="STACK")
    rm.add_argument("-f", "--force", action="store_true",
                    help="remove it even if it still has resources (they "
                         "are forgotten, not deleted)")
    rm.add_argument("-y", "--yes", action="store_true")
    args = p.parse_args(argv)
    if args.action is None:
        p.print_help()
        return 2
    project = find_project(args.cwd)
    if args.action == "ls":
        return _stack_ls(project, args)
    if args.action == "output":
        return _stack_output(project, args)
    return _stack_rm(project, args)


def _local_time(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) \
        if t else "an unknown time"


def _stack_ls(project: Project, args: argparse.Namespace) -> int:
    path = os.path.join(project.dir, ".outrun", "state.db")
    if not os.path.exists(path):
        summaries = []
    else:
        store = state_mod.Store.open(project.dir, create=False,
                                     passphrase=_passphrase("?"))
        try:
            summaries = store.stacks()
        finally:
            store.close()
    if args.json:
        print(json.dumps([{
            "name": s.name, "resources": s.resources,
            "last_run": s.last_run,
            "last_result": s.last_result or (
                "running" if s.running else
                "died" if s.last_run else None),
            "last_time": s.last_time} for s in summaries]))
        return 0
    if not summaries:
        print(f"No stacks in {project.dir} yet; `outrun up` makes one.")
        return 0
    print(f"{'NAME':<20} {'RESOURCES':>9}  LAST RUN")
    for s in summaries:
        ended, started = _local_time(s.last_time), \
            _local_time(s.last_started)
        if not s.last_run:
            last = "never"
        elif s.last_result:
            last = f"{s.last_run} {s.last_result} at {ended}"
        elif s.running:
            last = f"{s.last_run} running since {started}"
        else:
            last = (f"{s.last_run} started at {started} never ended (its "
                    "process died)")
        print(f"{s.name:<20} {s.resources:>9}  {last}")
    return 0


def _existing_store(project: Project, stack: str) -> Any:
    path = os.path.join(project.dir, ".outrun", "state.db")
    if not os.path.exists(path):
        raise UsageError(f"there is no stack '{stack}' in {project.dir} yet;"
                         " `outrun up` makes one")
    store = state_mod.Store.open(project.dir, create=False,
                                 passphrase=_passphrase(stack))
    if not store.has_stack(stack):
        store.close()
        raise UsageError(f"there is no stack '{stack}' in {project.dir}; "
                         "`outrun stack ls` lists the stacks")
    return store


def _stack_output(project: Project, args: argparse.Namespace) -> int:
    stack = _stack_name(args)
    store = _existing_store(project, stack)
    try:
        if args.show_secrets:
            values, secret = store.outputs(stack)
        else:
            values, secret = _outputs_masked(store, stack)
    finally:
        store.close()
    if args.name is not None:
        if args.name not in values:
            names = ", ".join(sorted(values)) or "none"
            print(f"outrun: error: stack '{stack}' has no output "
                  f"'{args.name}' (its outputs: {names})", file=sys.stderr)
            return 1
        value = values[args.name]
        if args.json:
            print(json.dumps(value))
        elif isinstance(value, str):
            print(value)
        else:
            print(json.dumps(value))
        return 0
    return _print_table(
        {k: v if isinstance(v, str) else json.dumps(v)
         for k, v in values.items()}, values, args.json,
        f"Stack '{stack}' has no outputs.",
        f"Current stack outputs ({len(values)}):", "    ")


def _print_table(rows: dict[str, str], as_json: Any, json_mode: bool,
                 empty: str, heading: str, indent: str = "") -> int:
    """Prints name/value rows (or as_json, with --json); exit code 0."""
    if json_mode:
        print(json.dumps(as_json, indent=2, sort_keys=True))
        return 0
    if not rows:
        print(empty)
        return 0
    width = max(len(k) for k in rows)
    print(heading)
    for k in sorted(rows):
        print(f"{indent}{k:<{width}}  {rows[k]}")
    return 0


def _outputs_masked(store: Any, stack: str) -> tuple[dict[str, Any],
                                                     frozenset[str]]:
    """The outputs with secrets as "[secret]", without asking for the
    passphrase."""
    masked = getattr(store, "outputs_masked", None)
    if masked is not None:
        return masked(stack)
    values, secret = store.outputs(stack)
    return ({k: ("[secret]" if k in secret else v)
             for k, v in values.items()}, secret)


def _stack_rm(project: Project, args: argparse.Namespace) -> int:
    if args.stack_name == "":
        raise UsageError("`stack rm` needs a stack name, and '' is empty")
    stack = args.stack_name or _stack_name(args)
    store = _existing_store(project, stack)
    try:
        lock = store.lock(stack, "stack rm")
        try:
            store.remove_stack(stack, force=args.force)
        finally:
            lock.release()
    finally:
        store.close()
    print(f"Stack '{stack}' removed.")
    return 0


# --------------------------------------------------------------------------
# outrun config ...
# --------------------------------------------------------------------------


def config_command(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="outrun config",
        description="The stack's configuration, read by the program with "
                    "outrun.Config.  Keys without a namespace belong to "
                    "the project.")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    s = sub.add_parser("set", help="set KEY to VALUE")
    _add_common(s)
    s.add_argument("key")
    s.add_argument("value", nargs="?",
                   help="the value (read from standard input if left out)")
    s.add_argument("--secret", action="store_true",
                   help="encrypt it; it is shown as [secret]")
    g = sub.add_parser("get", help="print one value")
    _add_common(g)
    g.add_argument("key")
    r = sub.add_parser("rm", help="remove KEY")
    _add_common(r)
    r.add_argument("key")
    ls = sub.add_parser("ls", help="list the values (the default)")
    _add_common(ls)
    ls.add_argument("--show-secrets", action="store_true")
    ls.add_argument("--json", action="store_true")
    if not argv or (argv[0].startswith("-")
                    and argv[0] not in ("-h", "--help")):
        argv = ["ls", *argv]
    args = p.parse_args(argv)
    project = find_project(args.cwd)
    stack = _stack_name(args)
    key = getattr(args, "key", None)
    if key is not None:
        _check_config_key(key)
        parts = key.split(":")
        if len(parts) > 2 or not all(p.strip() for p in parts):
            raise UsageError(
                f"'{key}' is not a configuration key: use NAME for the "
                "project's keys or NAMESPACE:NAME for another namespace's "
                "(neither part empty, at most one ':')")
        if len(parts) == 1:
            key = f"{project.name}:{key}"
    if args.action == "set":
        value = args.value
        if value is None:
            value = sys.stdin.read().rstrip("\n")
        store = _open_store(project, stack, create=True)
        try:
            store.create_stack(stack)
            store.set_config(stack, key, value, args.secret)
        finally:
            store.close()
        return 0
    store = _existing_store(project, stack)
    try:
        if args.action == "rm":
            if not store.remove_config(stack, key):
                print(f"outrun: error: '{key}' is not set in stack "
                      f"'{stack}'", file=sys.stderr)
                return 1
            return 0
        if args.action == "get":
            values = store.config(stack)
            if key not in values:
                print(f"outrun: error: '{key}' is not set in stack "
                      f"'{stack}'; set it with `outrun config set "
                      f"{args.key} VALUE`", file=sys.stderr)
                return 1
            print(values[key].value)
            return 0
        return _config_ls(store, stack, args)
    finally:
        store.close()


#: The longest configuration key, namespace included.
CONFIG_KEY_MAX = 256


def _check_config_key(key: str) -> None:
    """A key is a name: no whitespace or control characters (they hide in
    listings and break `config get` in scripts), at most CONFIG_KEY_MAX
    characters."""
    if len(key) > CONFIG_KEY_MAX:
        raise UsageError(f"the configuration key '{key[:40]}...' is "
                         f"{len(key)} characters long; keys have at most "
                         f"{CONFIG_KEY_MAX}")
    for ch in key:
        if ch.isspace() or not ch.isprintable():
            raise UsageError(
                f"{key!r} is not a configuration key: keys may not hold "
                f"whitespace or control characters (it holds {ch!r})")


def _config_ls(store: Any, stack: str, args: argparse.Namespace) -> int:
    masked = getattr(store, "config_masked", None)
    if not args.show_secrets and masked is not None:
        values = masked(stack)
    else:
        values = store.config(stack)
    rows = {k: ("[secret]" if v.secret and not args.show_secrets
                else v.value) for k, v in values.items()}
    width = max((len(k) for k in rows), default=0)
    return _print_table(rows, rows, args.json,
                        f"Stack '{stack}' has no configuration.",
                        f"{'KEY':<{width}}  VALUE")
