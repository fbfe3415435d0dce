"""The engine's commands that run no program: ``outrun stack
ls|output|rm`` and ``outrun config [ls|set|get|rm]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from outrun._engine import state as state_mod
from outrun._engine.project import (
    Project,
    add_common,
    existing_store,
    exit_code_of_errors,
    find_project,
    open_store,
    passphrase,
    stack_name,
    state_path,
)
from outrun._options import RunOptions, UsageError


def main(options: RunOptions) -> int:
    """Runs stack or config (options.command); returns the exit code."""
    command = {"stack": stack_command,
               "config": config_command}[options.command]
    return exit_code_of_errors(lambda: command(list(options.args)))

# --------------------------------------------------------------------------
# outrun stack ...
# --------------------------------------------------------------------------


def stack_command(argv: list[str]) -> int:
    """outrun stack ls|output|rm."""
    p = argparse.ArgumentParser(prog="outrun stack",
                                description="The project's stacks.")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    ls = sub.add_parser("ls", help="list the stacks")
    add_common(ls)
    ls.add_argument("--json", action="store_true")
    out = sub.add_parser("output", help="show the stack's outputs")
    add_common(out)
    out.add_argument("name", nargs="?", help="only this output")
    out.add_argument("--json", action="store_true")
    out.add_argument("--show-secrets", action="store_true",
                     help="show secret values instead of [secret]")
    rm = sub.add_parser("rm", help="remove a stack that has no resources")
    add_common(rm)
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
    if not os.path.exists(state_path(project)):
        summaries = []
    else:
        store = state_mod.Store.open(project.dir, create=False,
                                     passphrase=passphrase("?"))
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



def _stack_output(project: Project, args: argparse.Namespace) -> int:
    stack = stack_name(args.stack)
    store = existing_store(project, stack)
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
    return print_table(
        {k: v if isinstance(v, str) else json.dumps(v)
         for k, v in values.items()}, values, args.json,
        f"Stack '{stack}' has no outputs.",
        f"Current stack outputs ({len(values)}):", "    ")


def print_table(rows: dict[str, str], as_json: Any, json_mode: bool,
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
    stack = args.stack_name or stack_name(args.stack)
    store = existing_store(project, stack)
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
    """outrun config [ls|set|get|rm]."""
    p = argparse.ArgumentParser(
        prog="outrun config",
        description="The stack's configuration, read by the program with "
                    "outrun.Config.  Keys without a namespace belong to "
                    "the project.")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    s = sub.add_parser("set", help="set KEY to VALUE")
    add_common(s)
    s.add_argument("key")
    s.add_argument("value", nargs="?",
                   help="the value (read from standard input if left out)")
    s.add_argument("--secret", action="store_true",
                   help="encrypt it; it is shown as [secret]")
    g = sub.add_parser("get", help="print one value")
    add_common(g)
    g.add_argument("key")
    r = sub.add_parser("rm", help="remove KEY")
    add_common(r)
    r.add_argument("key")
    ls = sub.add_parser("ls", help="list the values (the default)")
    add_common(ls)
    ls.add_argument("--show-secrets", action="store_true")
    ls.add_argument("--json", action="store_true")
    if not argv or (argv[0].startswith("-")
                    and argv[0] not in ("-h", "--help")):
        argv = ["ls", *argv]
    args = p.parse_args(argv)
    project = find_project(args.cwd)
    stack = stack_name(args.stack)
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
        store = open_store(project, stack, create=True)
        try:
            store.create_stack(stack)
            store.set_config(stack, key, value, args.secret)
        finally:
            store.close()
        return 0
    store = existing_store(project, stack)
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
    return print_table(rows, rows, args.json,
                        f"Stack '{stack}' has no configuration.",
                        f"{'KEY':<{width}}  VALUE")
