"""The test provider of the engine scenarios, copied into each project.

A Thing is a file in the "world" folder (the path in the WORLD_DIR
environment variable) named after it, holding JSON {"value", "token"}:
the token is the resource's id, so that deleting the old half of a
replacement (same name) leaves the new file alone.  Every operation appends JSON lines to
WORLD_DIR/ops.log with one os.write on an O_APPEND descriptor (so lines
of concurrent operations never mix): a "start" line at entry and a line
named after the operation at its end, each with the resource's name, the
pid, and how many operations of this process were in flight at entry.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, Self

from outrun.dynamic import (
    CreateResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

_lock = threading.Lock()
_in_flight = 0


def _world() -> str:
    return os.environ["WORLD_DIR"]


def _log(**fields: Any) -> None:
    line = (json.dumps(fields, sort_keys=True) + "\n").encode()
    fd = os.open(os.path.join(_world(), "ops.log"),
                 os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class _Operation:
    """Counts the operations in flight and logs the start and the end."""

    def __init__(self, op: str, name: str) -> None:
        self.op = op
        self.name = name
        self.at_entry = 0

    def __enter__(self) -> Self:
        global _in_flight
        with _lock:
            _in_flight += 1
            self.at_entry = _in_flight
        _log(op="start", what=self.op, name=self.name, pid=os.getpid(),
             in_flight=self.at_entry)
        return self

    def done(self, op: str | None = None) -> None:
        _log(op=op or self.op, name=self.name, pid=os.getpid(),
             in_flight=self.at_entry)

    def __exit__(self, *exc: object) -> None:
        global _in_flight
        with _lock:
            _in_flight -= 1


def _path(name: str) -> str:
    return os.path.join(_world(), name)


def _write(path: str, value: Any, token: str) -> None:
    tmp = f"{path}.{token}.tmp"
    with open(tmp, "w") as f:
        json.dump({"value": value, "token": token}, f)
    os.replace(tmp, path)


def _work(props: Mapping[str, Any]) -> None:
    if props.get("sleep"):
        time.sleep(float(props["sleep"]))
    if props.get("fail"):
        raise RuntimeError(props["fail"])


class WorldProvider(ResourceProvider):
    """Things as files in WORLD_DIR."""

    def create(self, props: Mapping[str, Any]) -> CreateResult:
        name = props["name"]
        with _Operation("create", name) as op:
            _work(props)
            path = _path(name)
            again = os.path.exists(path)
            token = uuid.uuid4().hex
            _write(path, props["value"], token)
            op.done("create-again" if again else "create")
        return CreateResult(token, {**props, "path": path})

    def update(self, id_: str, olds: Mapping[str, Any],
               news: Mapping[str, Any]) -> UpdateResult:
        name = news["name"]
        with _Operation("update", name) as op:
            _work(news)
            path = _path(name)
            _write(path, news["value"], id_)
            op.done()
        return UpdateResult({**news, "path": path})

    def delete(self, id_: str, props: Mapping[str, Any]) -> None:
        name = props["name"]
        with _Operation("delete", name) as op:
            if props.get("sleep"):
                time.sleep(float(props["sleep"]))
            path = _path(name)
            try:
                with open(path) as f:
                    mine = json.load(f)["token"] == id_
            except FileNotFoundError:
                mine = False
            if mine:
                os.remove(path)
            op.done()


class Thing(Resource):
    """A file WORLD_DIR/name holding value; sleep seconds in each operation;
    fail: raise RuntimeError(fail) in each operation."""

    def __init__(self, name: str, value: Any, *, sleep: float = 0,
                 fail: str | None = None, opts: Any = None) -> None:
        super().__init__(WorldProvider(), name,
                         {"name": name, "value": value, "sleep": sleep,
                          "fail": fail, "path": None}, opts)
