"""The state store: one SQLite database per project, ``.outrun/state.db``.

CONTRACT (the engine codes against exactly this; keep it):

    store = Store.open(project_dir, passphrase=get_passphrase)   # creates .outrun/ and the db
    store = Store.open(project_dir, create=False)                # StateError if absent
    store.path                                                   # the db file
    store.close()

Stacks
    store.stacks() -> list[StackSummary]       # sorted by name
    store.has_stack(name) -> bool
    store.create_stack(name) -> None           # idempotent
    store.remove_stack(name, force=False)      # StateError if it still has resources
                                               # (unless force); removes config, outputs,
                                               # runs, resources of it.  StateError if absent.

Lock (one run per stack)
    lock = store.lock(stack, kind)   # kind: "up" | "preview" | "destroy" | "stack rm" ...
        -> Lock; raises StackLockedError naming the holder (pid, host, command,
           how long ago) when a live process holds it; a lock whose process is
           gone (same host, pid dead or pid reused: compare start time from
           /proc/<pid>/stat) is cleared and taken (lock.cleared_stale is then the
           description of the old holder, for a warning).
    lock.release()                   # also a context manager

Resources
    store.resources(stack) -> dict[str, ResourceState]   # key: ResourceState.key
    writer = store.writer(stack)                          # batches writes
    writer.put(state)               # insert or replace the row with state.key
    writer.remove(key)              # delete the row
    writer.put_provider(ref, blob)  # provider table: ref (str) -> pickled bytes
    writer.set_outputs(values, secret_keys)   # the stack's outputs (replaces all)
    writer.flush()                  # commits everything queued in ONE transaction;
                                    # no-op when nothing is queued
    writer.pending -> int           # rows queued and not yet flushed
    store.providers(stack) -> dict[str, bytes]
    store.outputs(stack) -> tuple[dict, frozenset[str]]   # values decrypted

Config
    store.config(stack) -> dict[str, ConfigValue]        # values decrypted
    store.set_config(stack, key, value: str, secret: bool)
    store.remove_config(stack, key) -> bool

Runs (history; also what `stack ls` shows)
    run_id = store.begin_run(stack, kind)
    store.end_run(run_id, result, counts: dict[str, int])  # result: "succeeded" |
                                                           # "failed" | "interrupted"

Secrets
    Values under ResourceState.secret_inputs / secret_outputs keys, secret
    config values and secret stack outputs are encrypted before they reach
    the database and decrypted on the way out (AES-256-GCM from the
    ``cryptography`` package, key from scrypt over the passphrase with a
    per-stack random salt; a per-stack check value detects a wrong
    passphrase -> PassphraseError, and nothing is written).  The passphrase
    callable is called at most once per Store, and only when a secret must
    be encrypted or decrypted; it returns the passphrase or raises
    PassphraseError with a message saying to set OUTRUN_CONFIG_PASSPHRASE.

Errors (all StateError subclasses, all messages say what is wrong and what
to do, none ever overwrites or repairs the file):
    not a database / corrupt  -> CorruptStateError
    schema newer than this Outrun knows -> NewerStateError
    unreadable (permissions, a folder in its place) -> StateError
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class ResourceState:
    """One resource as the state remembers it."""

    urn: str
    type: str
    name: str
    custom: bool
    provider: str = ""           # provider ref ("" for components)
    id: str | None = None
    parent: str | None = None    # parent URN
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_inputs: frozenset[str] = frozenset()   # top-level keys
    secret_outputs: frozenset[str] = frozenset()
    deps: tuple[str, ...] = ()   # URNs this one depends on
    protect: bool = False
    retain_on_delete: bool = False
    # An operation that was started and not finished ("creating",
    # "updating", "deleting"): set before a provider call, cleared by the
    # put() of its result.
    pending: str | None = None
    # A replaced resource that still has to be deleted: kept beside the
    # live one with the same URN.
    delete: bool = False
    seq: int = 0                 # registration order, for stable listings

    @property
    def key(self) -> str:
        return self.urn + "#delete" if self.delete else self.urn


@dataclass(slots=True)
class StackSummary:
    name: str
    resources: int
    last_run: str | None         # "up" / "destroy" / ...
    last_result: str | None      # "succeeded" / "failed" / "interrupted"
    last_time: float | None      # epoch seconds the last run ended


@dataclass(slots=True)
class ConfigValue:
    value: str
    secret: bool


class StateError(Exception):
    """The state cannot be used; the message says why and what to do."""


class CorruptStateError(StateError):
    pass


class NewerStateError(StateError):
    pass


class StackLockedError(StateError):
    pass


class PassphraseError(StateError):
    pass
