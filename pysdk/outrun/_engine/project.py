"""What every engine command starts from: the project (its folder and
program), the stack's name, the state store, and the exit code of a
closed standard output."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from outrun._engine import state as state_mod
from outrun._options import UsageError

DEFAULT_STACK = "dev"
PROJECT_FILE = "outrun.toml"

_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

#: The exit code after standard output's reader went away: what a shell
#: shows for a process that SIGPIPE ended (128 + 13), as `yes | head`.
EXIT_PIPE_CLOSED = 141


@dataclass
class Project:
    """A project: its name, its folder and its program's file."""

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
        # Only a project with an outrun.toml pays for the import.
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


def add_common(p: argparse.ArgumentParser) -> None:
    """-C DIR and -s STACK, which every engine command takes."""
    p.add_argument("-C", "--cwd", dest="cwd", metavar="DIR",
                   help="the project folder (default: the current one)")
    p.add_argument("-s", "--stack", default=None,
                   help=f"the stack (default: {DEFAULT_STACK}, or "
                        "OUTRUN_STACK)")


def stack_name(given: str | None) -> str:
    """The stack a command works on: -s's (given), else OUTRUN_STACK's,
    else DEFAULT_STACK; checked."""
    if given == "":
        raise UsageError("-s/--stack needs a stack name, and '' is empty; "
                         "leave the option out for the default stack")
    name = given or os.environ.get("OUTRUN_STACK") or DEFAULT_STACK
    if not _STACK_NAME.match(name):
        raise UsageError(f"'{name}' is not a valid stack name: use letters, "
                         "digits, '.', '_' and '-', starting with a letter "
                         "or digit")
    return name


def state_path(project: Project) -> str:
    """The project's state file, which exists once something was run."""
    return os.path.join(project.dir, ".outrun", "state.db")


def passphrase(stack: str) -> Any:
    """What asks for the stack's passphrase: the store calls it as
    passphrase(stack, new) when it needs one."""
    return state_mod.passphrase_from_env_or_prompt


def open_store(project: Project, stack: str, create: bool) -> Any:
    return state_mod.Store.open(project.dir, create=create,
                                passphrase=passphrase(stack))


def existing_store(project: Project, stack: str) -> Any:
    """The store, for a stack that must exist already (else a usage
    error)."""
    if not os.path.exists(state_path(project)):
        raise UsageError(f"there is no stack '{stack}' in {project.dir} yet;"
                         " `outrun up` makes one")
    store = state_mod.Store.open(project.dir, create=False,
                                 passphrase=passphrase(stack))
    if not store.has_stack(stack):
        store.close()
        raise UsageError(f"there is no stack '{stack}' in {project.dir}; "
                         "`outrun stack ls` lists the stacks")
    return store


def stdout_to_devnull() -> None:
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


def exit_code_of_errors(command: Callable[[], int]) -> int:
    """Runs an engine command; its usage errors give 2, a state that
    cannot be used 1, and a reader of standard output that went away
    EXIT_PIPE_CLOSED, each said on stderr."""
    try:
        return command()
    except UsageError as exc:
        print(f"outrun: error: {exc}", file=sys.stderr)
        return 2
    except state_mod.StateError as exc:
        print(f"outrun: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `outrun stack output | head -1`: the reader has what it wanted.
        stdout_to_devnull()
        return EXIT_PIPE_CLOSED
