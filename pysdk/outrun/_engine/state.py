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

Beyond the contract, in this implementation:
    - The passphrase callable is called as passphrase(stack, new) when it
      takes two arguments, passphrase(stack) for one, passphrase() for
      none; `new` is True when the stack has no secrets yet (prompt twice).
      The default is passphrase_from_env_or_prompt.
    - writer().flush(), set_config() and begin_run() create the stack when
      it does not exist; reads of an absent stack return empty values.
    - store.runs(stack, limit=20) lists the latest runs, newest first;
      Store and Lock are context managers; Store.close() releases the
      locks the store still holds; lock.held says whether it is held.
    - A secret that does not decrypt under the right passphrase (a damaged
      row, or one copied from another stack) is a CorruptStateError.
    - One Store is used by one thread at a time.
"""
from __future__ import annotations

import base64
import contextlib
import errno
import gc
import getpass
import inspect
import json
import os
import secrets as _random
import socket
import sqlite3
import stat
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from outrun import _secrets
from outrun._monitor import ConfigValue


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
    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
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
    last_started: float | None = None  # epoch seconds it started
    running: str | None = None   # who runs it now, when it has not ended


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


# ---------------------------------------------------------------------------
# File format
# ---------------------------------------------------------------------------

#: The schema this Outrun writes and the newest one it reads.
SCHEMA_VERSION = 1

PASSPHRASE_ENV = "OUTRUN_CONFIG_PASSPHRASE"

_SQLITE_MAGIC = b"SQLite format 3\x00"

# Every table of schema 1.  A resource row keeps the URN and the key in
# columns (the key is the URN, or URN + "#delete" for a replaced resource
# still to delete, so `key = urn` selects the live ones) and everything
# else in one compact JSON list, in the order of _ROW_FIELDS.
_SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE stacks (
    name    TEXT PRIMARY KEY,
    salt    BLOB NOT NULL,
    check_value TEXT,
    created REAL NOT NULL
);
CREATE TABLE resources (
    stack TEXT NOT NULL,
    key   TEXT NOT NULL,
    urn   TEXT NOT NULL,
    data  TEXT NOT NULL,
    UNIQUE (stack, key)
);
CREATE TABLE providers (
    stack TEXT NOT NULL,
    ref   TEXT NOT NULL,
    blob  BLOB NOT NULL,
    PRIMARY KEY (stack, ref)
);
CREATE TABLE outputs (
    stack TEXT PRIMARY KEY,
    data  TEXT NOT NULL
);
CREATE TABLE config (
    stack  TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    secret INTEGER NOT NULL,
    PRIMARY KEY (stack, key)
);
CREATE TABLE runs (
    id      INTEGER PRIMARY KEY,
    stack   TEXT NOT NULL,
    kind    TEXT NOT NULL,
    started REAL NOT NULL,
    ended   REAL,
    result  TEXT,
    counts  TEXT
);
CREATE INDEX runs_by_stack ON runs (stack, id);
CREATE TABLE locks (
    stack      TEXT PRIMARY KEY,
    pid        INTEGER NOT NULL,
    host       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    started    REAL NOT NULL,
    proc_start TEXT,
    token      TEXT NOT NULL
);
"""

_TABLES = frozenset(
    ("meta", "stacks", "resources", "providers", "outputs", "config",
     "runs", "locks")
)

# Secrets: scrypt parameters and the value format.  A secret value is
# JSON-encoded, sealed with AES-256-GCM under a random 96-bit nonce and
# the stack name as associated data, and stored as "v1:" + base64(nonce +
# ciphertext); inside JSON rows it takes the place of the value as
# {"$secret": "v1:..."}.
_SCRYPT_N = 2**15
_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 16
_NONCE_BYTES = 12
_SEALED_PREFIX = "v1:"
_SECRET_TAG = "$secret"
_CHECK_PLAINTEXT = b'"outrun passphrase check"'

_BUSY_TIMEOUT_MS = 10_000
# Rows per executemany() within one flush's transaction.
_FLUSH_CHUNK = 1024

_json_encode = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, check_circular=False
).encode
_decode: Callable[[str], Any] = json.JSONDecoder().decode
_encode: Callable[[Any], str] = _json_encode

try:
    import orjson as _orjson
except ImportError:  # the standard library does the same, ten times slower
    pass
else:
    _orjson_dumps = _orjson.dumps
    _orjson_loads = _orjson.loads
    _json_decode = _decode

    def _orjson_decode(text: str) -> Any:
        """The value of JSON text; what orjson refuses (NaN, numbers
        beyond a double, written by the fallback below) goes to the
        standard library, which says what is wrong if anything is."""
        try:
            return _orjson_loads(text)
        except ValueError:
            return _json_decode(text)

    def _orjson_encode(value: Any) -> str:
        """JSON text of value: orjson's, or the standard library's for
        what orjson refuses (integers beyond 64 bits, non-string keys)."""
        try:
            return _orjson_dumps(value).decode()
        except TypeError:
            return _json_encode(value)

    _decode = _orjson_decode
    _encode = _orjson_encode

_NO_KEYS: frozenset[str] = frozenset()


def _outrun_version() -> str:
    mod = sys.modules.get("_outrun")
    if mod is None:
        try:
            import _outrun as mod
        except ImportError:
            return "unknown"
    return str(getattr(mod, "__version__", "unknown"))


# ---------------------------------------------------------------------------
# Passphrase
# ---------------------------------------------------------------------------

def passphrase_from_env_or_prompt(stack: str, new: bool = False) -> str:
    """The passphrase of `stack`'s secrets.

    ``OUTRUN_CONFIG_PASSPHRASE`` when it is set (an empty value is a
    passphrase too); otherwise, when stdin is a terminal, asked for with
    getpass, twice when `new` (the stack has no secrets yet, so a typo
    would lock them away); otherwise PassphraseError.
    """
    value = os.environ.get(PASSPHRASE_ENV)
    if value is not None:
        return value
    try:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):
        interactive = False
    if not interactive:
        raise PassphraseError(
            f"stack '{stack}' has secrets and no passphrase was given; set "
            f"{PASSPHRASE_ENV} (stdin is not a terminal, so Outrun cannot "
            f"ask for it)"
        )
    try:
        if not new:
            return getpass.getpass(f"Passphrase of stack '{stack}': ")
        first = getpass.getpass(
            f"New passphrase for the secrets of stack '{stack}': "
        )
        second = getpass.getpass("Repeat it: ")
    except EOFError:
        raise PassphraseError(
            f"no passphrase was typed for stack '{stack}'; set "
            f"{PASSPHRASE_ENV} or type it when asked"
        ) from None
    if first != second:
        raise PassphraseError(
            "the two passphrases differ; nothing was written; run again "
            f"and type the same one twice, or set {PASSPHRASE_ENV}"
        )
    return first


def _adapt_passphrase(
    source: Callable[..., str] | None,
) -> Callable[[str, bool], str]:
    """Calls `source` with (stack, new), (stack) or () as it accepts."""
    if source is None:
        return passphrase_from_env_or_prompt
    try:
        sig = inspect.signature(source)
    except (TypeError, ValueError):
        return source
    for args in (("stack", True), ("stack",), ()):
        try:
            sig.bind(*args)
        except TypeError:
            continue
        n = len(args)
        if n == 2:
            return source
        if n == 1:
            return lambda stack, new: source(stack)
        return lambda stack, new: source()
    return source


def _unopened() -> tuple[type[BaseException], ...]:
    """The errors of a secret that does not open (a wrong key, damaged
    bytes); evaluated only when one is being matched, so cryptography is
    imported only by stacks with secrets."""
    from cryptography.exceptions import InvalidTag

    return (InvalidTag, ValueError)


class _Sealer:
    """AES-256-GCM under one stack's key, the stack name as associated data."""

    __slots__ = ("aad", "aead")

    def __init__(self, key: bytes, stack: str) -> None:
        # cryptography is imported on first use: a stack without secrets
        # never pays for it.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.aead = AESGCM(key)
        self.aad = stack.encode()

    def seal_bytes(self, plaintext: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self.aead.encrypt(nonce, plaintext, self.aad)
        return _SEALED_PREFIX + base64.b64encode(sealed).decode("ascii")

    def open_bytes(self, text: str) -> bytes:
        # Raises InvalidTag or ValueError when it does not open.
        if not text.startswith(_SEALED_PREFIX):
            raise ValueError(f"unknown secret format {text[:8]!r}")
        raw = base64.b64decode(text[len(_SEALED_PREFIX):], validate=True)
        return self.aead.decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self.aad
        )

    def seal(self, value: Any) -> dict[str, str]:
        # A secret the run writes is one it knows: masked in its output.
        _secrets.add(value)
        return {_SECRET_TAG: self.seal_bytes(_encode(value).encode())}


# ---------------------------------------------------------------------------
# Processes, for locks
# ---------------------------------------------------------------------------

def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks since boot) of `pid`, or
    None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or
    # parentheses itself, so split after the last ')'.
    fields = text[text.rfind(")") + 2:].split()
    if len(fields) < 20:
        return None
    return fields[0], fields[19]


def _process_gone(pid: int, proc_start: str | None) -> bool:
    """Whether process `pid` of this host, started at `proc_start`, ended."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # It exists, under another user.
    except OSError:
        return False
    stat = _proc_stat(pid)
    if stat is None:
        return False
    state, start = stat
    if state in ("Z", "X"):
        return True  # Exited; its parent has not reaped it yet.
    # The same pid with another start time is a new process.
    return proc_start is not None and start != proc_start


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 90:
        return f"{s} s ago"
    if s < 90 * 60:
        return f"{round(s / 60)} min ago"
    if s < 36 * 3600:
        return f"{round(s / 3600)} h ago"
    return f"{round(s / 86400)} days ago"


def _describe_holder(kind: str, pid: int, host: str, started: float) -> str:
    return (
        f"`outrun {kind}` (pid {pid} on {host}, started "
        f"{_ago(time.time() - started)})"
    )


# ---------------------------------------------------------------------------
# Store
# ---------------------------------------------------------------------------

class Lock:
    """A stack's run lock, held until release() (or the end of a with
    block); taken by Store.lock(), read by Store.live_holder().
    `cleared_stale` describes the holder of a stale lock that was cleared
    to take this one, for a warning; None otherwise."""

    def __init__(
        self, store: Store, stack: str, kind: str, token: str,
        cleared_stale: str | None,
    ) -> None:
        self.store = store
        self.stack = stack
        self.kind = kind
        self.cleared_stale = cleared_stale
        self._token: str | None = token

    @property
    def held(self) -> bool:
        return self._token is not None

    def release(self) -> None:
        """Release the lock; does nothing when it is already released."""
        token, self._token = self._token, None
        if token is None:
            return
        self.store._held_locks.discard(self)
        if self.store._db is None:
            raise StateError(
                f"the lock of stack '{self.stack}' was released after its "
                "store was closed; release locks before Store.close()"
            )
        with self.store._write():
            self.store._db.execute(
                "DELETE FROM locks WHERE stack = ? AND token = ?",
                (self.stack, token),
            )

    @staticmethod
    def live_holder(store: Store, stack: str) -> str | None:
        """See Store.live_holder."""
        with store._errors("read"):
            row = store._conn.execute(
                "SELECT pid, host, kind, started, proc_start FROM locks "
                "WHERE stack = ?", (stack,)
            ).fetchone()
        if row is None:
            return None
        h_pid, h_host, h_kind, h_started, h_start = row
        if h_host == store._host and _process_gone(h_pid, h_start):
            return None
        return _describe_holder(h_kind, h_pid, h_host, h_started)

    @classmethod
    def take(cls, store: Store, stack: str, kind: str) -> Lock:
        """The lock taken (see Store.lock)."""
        pid = os.getpid()
        stat = _proc_stat(pid)
        token = _random.token_hex(8)
        cleared = None
        with store._write() as w:
            row = w.execute(
                "SELECT pid, host, kind, started, proc_start FROM locks "
                "WHERE stack = ?", (stack,)
            ).fetchone()
            if row is not None:
                h_pid, h_host, h_kind, h_started, h_start = row
                holder = _describe_holder(h_kind, h_pid, h_host, h_started)
                if h_host != store._host:
                    raise StackLockedError(
                        f"stack '{stack}' is locked by {holder}; Outrun "
                        "cannot tell whether a process on another host is "
                        "still running, so wait for it to finish; if it is "
                        "gone, remove the lock with: sqlite3 "
                        f"{store.path} \"DELETE FROM locks WHERE stack = "
                        f"'{stack}'\""
                    )
                if not _process_gone(h_pid, h_start):
                    raise StackLockedError(
                        f"stack '{stack}' is locked by {holder}; wait for "
                        "it to finish, or if that process is gone, run "
                        "again: a lock whose process has died is cleared "
                        "automatically"
                    )
                cleared = holder
                w.execute("DELETE FROM locks WHERE stack = ?", (stack,))
            w.execute(
                "INSERT INTO locks (stack, pid, host, kind, started, "
                "proc_start, token) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (stack, pid, store._host, kind, time.time(),
                 stat[1] if stat else None, token),
            )
        return cls(store, stack, kind, token, cleared)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "held" if self.held else "released"
        return f"<Lock of stack {self.stack!r} for {self.kind!r}, {state}>"


class _Database:
    """The SQLite connection of one state file: the file checked (and
    made whole when absent), the connection opened and validated, its
    transactions, its errors as StateError, and its close."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = db

    @staticmethod
    def _connect(project_dir: str | os.PathLike[str],
                 create: bool) -> tuple[Path, sqlite3.Connection]:
        """The state file of the project in `project_dir` (made when
        absent and `create`), and a connection to it."""
        folder = Path(project_dir) / ".outrun"
        path = folder / "state.db"
        if create:
            try:
                folder.mkdir(exist_ok=True)
            except FileExistsError:
                raise StateError(
                    f"cannot create the state folder {folder}: something "
                    "that is not a folder is in its place; move it aside"
                ) from None
            except OSError as e:
                raise StateError(
                    f"cannot create the state folder {folder}: "
                    f"{e.strerror or e}; check that the project folder "
                    "exists and is writable"
                ) from None
        if _check_file(path, create):
            # Nothing there yet: the state is built whole under another
            # name and linked into place, so that a concurrent first run
            # sees no file or a complete one, never a half-made one.
            _create(path)
        try:
            db = sqlite3.connect(
                "file:" + _uri_path(path) + "?mode=rw",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as e:
            raise _translate(e, path, "open") from None
        return path, db

    def _configure(self) -> None:
        """Checks what the connection opened and sets it up for Outrun;
        closes it if either fails."""
        db = self._conn
        try:
            db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            self._validate()
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA cache_size = -32768")
            # No checkpoint inside a commit (it would copy the log into
            # the database and sync it, on the event loop's thread, in the
            # middle of a run): close() does it, after the run.
            db.execute("PRAGMA wal_autocheckpoint = 0")
        except BaseException:
            db.close()
            raise

    def _validate(self) -> None:
        db = self._conn
        with self._errors("read"):
            tables = self._tables()
            if "meta" not in tables:
                raise CorruptStateError(
                    f"{self.path} is an SQLite database but not Outrun "
                    "state (it has no meta table); Outrun left it "
                    "untouched. Move it aside, or point Outrun at the "
                    "right project"
                )
            row = db.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
            try:
                version = int(row[0]) if row else 0
            except (TypeError, ValueError):
                version = 0
            if version < 1:
                raise CorruptStateError(
                    f"{self.path} has no readable schema version; Outrun "
                    "left it untouched. Restore it from a backup, or move "
                    "it aside to start with an empty state"
                )
            if version > SCHEMA_VERSION:
                raise NewerStateError(
                    f"{self.path} was written by a newer Outrun (state "
                    f"schema {version}; this one reads up to "
                    f"{SCHEMA_VERSION}). Upgrade Outrun to use it; the file "
                    "was not changed"
                )
            missing = _TABLES - tables
            if missing:
                raise CorruptStateError(
                    f"{self.path} lacks the table(s) "
                    f"{', '.join(sorted(missing))}; Outrun left it "
                    "untouched. Restore it from a backup, or move it aside "
                    "to start with an empty state"
                )
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                db.execute("PRAGMA journal_mode = WAL")

    def _tables(self) -> set[str]:
        return {
            r[0] for r in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }

    def _close_db(self) -> None:
        db, self._db = self._db, None
        if db is None:
            return
        try:
            # Copy the log into the database, without waiting for
            # readers of other processes (what they hold stays in the
            # log for the next close).
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            pass
        db.close()

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StateError(f"the state store {self.path} is closed")
        return self._db

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise _translate(e, self.path, doing) from None

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE), rolled back on error."""
        db = self._conn
        with self._errors("write"):
            db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            if isinstance(sys.exc_info()[1], sqlite3.Error):
                raise _translate(
                    sys.exc_info()[1], self.path, "write"  # type: ignore[arg-type]
                ) from None
            raise
        with self._errors("write"):
            db.execute("COMMIT")


class _Keyring:
    """The keys of a store's stacks: the passphrase, asked for once per
    store (the first time a secret is sealed or opened), and one key per
    stack derived from it and checked against the stack's check value
    (set on first use)."""

    def __init__(self, store: Store,
                 passphrase: Callable[[str, bool], str]) -> None:
        self._store = store
        self._source = passphrase
        self._passphrase: str | None = None
        self._sealers: dict[str, _Sealer] = {}

    def sealer(self, stack: str) -> _Sealer:
        """The stack's key, derived once per Store; checks the passphrase
        against the stack's check value, or sets that on first use."""
        sealer = self._sealers.get(stack)
        if sealer is not None:
            return sealer
        store = self._store
        db = store._conn
        with store._errors("read"):
            row = db.execute(
                "SELECT salt, check_value FROM stacks WHERE name = ?",
                (stack,),
            ).fetchone()
        if row is None:
            with store._write() as w:
                store._ensure_stack(w, stack)
                row = w.execute(
                    "SELECT salt, check_value FROM stacks WHERE name = ?",
                    (stack,),
                ).fetchone()
        salt, check = row
        if self._passphrase is None:
            phrase = self._source(stack, check is None)
            if not isinstance(phrase, str):
                raise PassphraseError(
                    f"the passphrase source returned {type(phrase).__name__}"
                    f", not a string; set {PASSPHRASE_ENV}"
                )
            self._passphrase = phrase
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        key = Scrypt(
            salt=bytes(salt), length=32, n=_SCRYPT_N, r=_SCRYPT_R,
            p=_SCRYPT_P,
        ).derive(self._passphrase.encode())
        sealer = _Sealer(key, stack)
        if check is None:
            with store._write() as w:
                check = w.execute(
                    "SELECT check_value FROM stacks WHERE name = ?", (stack,)
                ).fetchone()[0]
                if check is None:
                    w.execute(
                        "UPDATE stacks SET check_value = ? WHERE name = ?",
                        (sealer.seal_bytes(_CHECK_PLAINTEXT), stack),
                    )
        if check is not None:
            try:
                ok = sealer.open_bytes(check) == _CHECK_PLAINTEXT
            except _unopened():
                ok = False
            if not ok:
                raise PassphraseError(
                    "the passphrase does not decrypt the secrets of stack "
                    f"'{stack}'; set {PASSPHRASE_ENV} to the one used when "
                    "they were written"
                )
        self._sealers[stack] = sealer
        return sealer

    def open_value(self, stack: str, sealed: Any, what: str) -> Any:
        if not (isinstance(sealed, dict) and _SECRET_TAG in sealed):
            return sealed  # Stored before it became a secret.
        sealer = self.sealer(stack)
        try:
            value = _decode(sealer.open_bytes(sealed[_SECRET_TAG]).decode())
        except _unopened() as e:
            raise CorruptStateError(
                f"the secret {what} of stack '{stack}' in "
                f"{self._store.path} does not decrypt "
                f"({type(e).__name__}) although the passphrase "
                "is right: the row was damaged or copied from another "
                "stack. Restore the file from a backup, or set the value "
                "again"
            ) from None
        # A secret the run reads is one it knows: masked in its output.
        _secrets.add(value)
        return value

    def open_secrets(
        self, stack: str, values: dict[str, Any], keys: frozenset[str],
        what: str,
    ) -> None:
        for k in keys:
            if k in values:
                values[k] = self.open_value(stack, values[k], f"{what} '{k}'")

    def forget(self, stack: str) -> None:
        """A removed stack: its key goes."""
        self._sealers.pop(stack, None)


class Store(_Database):
    """The state of one project: ``PROJECT/.outrun/state.db``.

    Open it with Store.open().  One Store is used by one thread at a time.
    """

    def __init__(
        self, path: Path, db: sqlite3.Connection,
        passphrase: Callable[[str, bool], str],
    ) -> None:
        super().__init__(path, db)
        self._keys = _Keyring(self, passphrase)
        self._held_locks: set[Lock] = set()
        self._host = socket.gethostname()

    # -- opening ------------------------------------------------------------

    @classmethod
    def open(
        cls,
        project_dir: str | os.PathLike[str],
        *,
        passphrase: Callable[..., str] | None = None,
        create: bool = True,
    ) -> Store:
        """Open the state of the project in `project_dir`.

        `create`: make ``.outrun/`` and the database when absent (else
        StateError).  `passphrase`: called with (stack, new), (stack) or ()
        -- whichever it accepts -- the first time a secret is sealed or
        opened; default passphrase_from_env_or_prompt.
        """
        path, db = cls._connect(project_dir, create)
        store = cls(path, db, _adapt_passphrase(passphrase))
        store._configure()
        return store

    def close(self) -> None:
        """Release the locks this store holds and close the database."""
        if self._db is None:
            return
        try:
            for lock in list(self._held_locks):
                lock.release()
        finally:
            self._close_db()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Store {str(self.path)!r}{'' if self._db else ' closed'}>"

    def _ensure_stack(self, db: sqlite3.Connection, stack: str) -> None:
        # Inside a write transaction.
        db.execute(
            "INSERT OR IGNORE INTO stacks (name, salt, check_value, created)"
            " VALUES (?, ?, NULL, ?)",
            (stack, os.urandom(_SALT_BYTES), time.time()),
        )

    # -- stacks -------------------------------------------------------------

    def stacks(self) -> list[StackSummary]:
        """Every stack, sorted by name, with its number of live resources
        and its latest run (result and end time None while it has not
        ended, or when the process running it died)."""
        db = self._conn
        with self._errors("read"):
            db.execute("BEGIN")
            try:
                names = [r[0] for r in db.execute(
                    "SELECT name FROM stacks ORDER BY name")]
                counts = dict(db.execute(
                    "SELECT stack, count(*) FROM resources WHERE key = urn "
                    "GROUP BY stack"))
                last = {r[0]: r[1:] for r in db.execute(
                    "SELECT stack, kind, result, ended, started FROM runs "
                    "WHERE id IN (SELECT max(id) FROM runs GROUP BY stack)")}
            finally:
                db.execute("COMMIT")
        out = []
        for name in names:
            kind, result, ended, started = last.get(
                name, (None, None, None, None))
            running = self.live_holder(name) \
                if kind is not None and result is None else None
            out.append(StackSummary(name, counts.get(name, 0), kind, result,
                                    ended, started, running))
        return out

    def has_stack(self, name: str) -> bool:
        with self._errors("read"):
            return self._conn.execute(
                "SELECT 1 FROM stacks WHERE name = ?", (name,)
            ).fetchone() is not None

    def create_stack(self, name: str) -> None:
        """Create stack `name`; does nothing when it exists."""
        if not isinstance(name, str) or not name:
            raise StateError(f"a stack name must be a non-empty string, "
                             f"not {name!r}")
        with self._write() as w:
            self._ensure_stack(w, name)

    def remove_stack(self, name: str, force: bool = False) -> None:
        """Remove stack `name` with its config, outputs, providers, runs
        and (with `force`) resources.  Its lock, if any, stays with its
        holder."""
        with self._write() as w:
            if w.execute("SELECT 1 FROM stacks WHERE name = ?",
                         (name,)).fetchone() is None:
                raise StateError(
                    f"there is no stack '{name}' in {self.path}; "
                    "`outrun stack ls` lists the stacks there are"
                )
            n = w.execute("SELECT count(*) FROM resources WHERE stack = ?",
                          (name,)).fetchone()[0]
            if n and not force:
                raise StateError(
                    f"stack '{name}' still has {n} resource"
                    f"{'' if n == 1 else 's'}; run `outrun destroy` first, "
                    "or add --force to forget them (the resources "
                    "themselves are then left as they are)"
                )
            for table in ("resources", "providers", "outputs", "config",
                          "runs"):
                w.execute(f"DELETE FROM {table} WHERE stack = ?", (name,))
            w.execute("DELETE FROM stacks WHERE name = ?", (name,))
        self._keys.forget(name)

    # -- lock ---------------------------------------------------------------

    def live_holder(self, stack: str) -> str | None:
        """Who holds the run lock of `stack`, when a process that may be
        running does (this host: alive; another host: cannot tell); None
        when nobody does.  Reads only: for a preview, which takes no lock.
        """
        return Lock.live_holder(self, stack)

    def lock(self, stack: str, kind: str) -> Lock:
        """Take the run lock of `stack` for a command `kind` ("up", ...).

        StackLockedError when a live process holds it.  A lock whose
        process is gone (this host; pid dead, a zombie, or reused by a
        process with another start time) is cleared and taken.  A lock
        from another host cannot be checked and counts as live.
        """
        lock = Lock.take(self, stack, kind)
        self._held_locks.add(lock)
        return lock

    # -- resources ----------------------------------------------------------

    def resources(self, stack: str) -> dict[str, ResourceState]:
        """Every resource row of `stack` by key, secrets decrypted."""
        with self._errors("read"):
            rows = self._conn.execute(
                "SELECT key, urn, data FROM resources WHERE stack = ?",
                (stack,),
            ).fetchall()
        out: dict[str, ResourceState] = {}
        no_keys = _NO_KEYS
        needs_opening = []
        # Loading 100,000 rows makes millions of containers that live on;
        # the cyclic collector would walk them again and again (it doubled
        # the cost in measurements), and none of them form cycles.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            decoded = _decode_rows(self.path, stack, rows)
            for (key, urn, _), row in zip(rows, decoded):
                try:
                    (typ, name, custom, provider, id_, parent, inputs,
                     outputs, s_in, s_out, deps, protect, retain, pending,
                     delete, seq) = row
                except (ValueError, TypeError):
                    raise _damaged_row(
                        self.path, stack, urn, "it is not a list of "
                        f"{len(_ROW_TYPES)} fields") from None
                # The right length is not enough: a field of the wrong
                # type would fail later, far from here (item 10 of
                # issue 11: "'int' object is not iterable").
                if not (type(typ) is str and type(name) is str
                        and type(custom) is bool and type(provider) is str
                        and (id_ is None or type(id_) is str
                             or type(id_) is int)
                        and (parent is None or type(parent) is str)
                        and type(inputs) is dict and type(outputs) is dict
                        and type(s_in) is list and type(s_out) is list
                        and type(deps) is list and type(protect) is bool
                        and type(retain) is bool
                        and (pending is None or type(pending) is str)
                        and type(delete) is bool and type(seq) is int) or (
                            (s_in or s_out or deps)
                            and _not_all_str(s_in, s_out, deps)):
                    raise _damaged_row(self.path, stack, urn,
                                       _wrong_field(row))
                state = ResourceState(
                    urn, typ, name, custom, provider,
                    id_,  # type: ignore[arg-type]  # an old int id stays
                    parent, inputs,
                    outputs, frozenset(s_in) if s_in else no_keys,
                    frozenset(s_out) if s_out else no_keys, tuple(deps),
                    protect, retain, pending, delete, seq,
                )
                out[key] = state
                if s_in or s_out:
                    needs_opening.append((state, inputs, outputs))
        finally:
            if gc_was_enabled:
                gc.enable()
        keys = self._keys
        for state, inputs, outputs in needs_opening:
            keys.open_secrets(stack, inputs, state.secret_inputs,
                              f"input of {state.urn},")
            keys.open_secrets(stack, outputs, state.secret_outputs,
                              f"output of {state.urn},")
        return out

    def writer(self, stack: str) -> Writer:
        """A Writer that batches changes to `stack` until its flush()."""
        return Writer(self, stack)

    def providers(self, stack: str) -> dict[str, bytes]:
        with self._errors("read"):
            return {
                ref: bytes(blob) for ref, blob in self._conn.execute(
                    "SELECT ref, blob FROM providers WHERE stack = ?",
                    (stack,),
                )
            }

    def _sealed_outputs(self, stack: str
                        ) -> tuple[dict[str, Any], frozenset[str]]:
        """The stack's outputs as stored (secrets sealed)."""
        with self._errors("read"):
            row = self._conn.execute(
                "SELECT data FROM outputs WHERE stack = ?", (stack,)
            ).fetchone()
        if row is None:
            return {}, _NO_KEYS
        try:
            values, keys = _decode(row[0])
            if type(values) is not dict or type(keys) is not list \
                    or _not_all_str(keys):
                raise TypeError
        except (ValueError, TypeError):
            quoted = stack.replace("'", "''")
            raise CorruptStateError(
                f"the outputs row of stack '{stack}' in {self.path} is "
                "damaged; Outrun left the file untouched. Restore the file "
                "from a backup, or remove that row (the next `outrun up` "
                f"writes the outputs again) with: sqlite3 {self.path} "
                f"\"DELETE FROM outputs WHERE stack = '{quoted}'\""
            ) from None
        return values, frozenset(keys)

    def outputs(self, stack: str) -> tuple[dict[str, Any], frozenset[str]]:
        """The stack's outputs, secrets decrypted, and which are secret."""
        values, keys = self._sealed_outputs(stack)
        self._keys.open_secrets(stack, values, keys, "output")
        return values, keys

    def outputs_masked(self, stack: str
                       ) -> tuple[dict[str, Any], frozenset[str]]:
        """The stack's outputs with each secret one as "[secret]": needs no
        passphrase."""
        values, keys = self._sealed_outputs(stack)
        return ({k: ("[secret]" if k in keys else v)
                 for k, v in values.items()}, keys)

    # -- config -------------------------------------------------------------

    def config_masked(self, stack: str) -> dict[str, ConfigValue]:
        """The stack's configuration with each secret value as "[secret]":
        needs no passphrase."""
        with self._errors("read"):
            rows = self._conn.execute(
                "SELECT key, value, secret FROM config WHERE stack = ? "
                "ORDER BY key", (stack,)
            ).fetchall()
        return {key: ConfigValue("[secret]" if secret else value,
                                 bool(secret))
                for key, value, secret in rows}

    def config(self, stack: str) -> dict[str, ConfigValue]:
        """The stack's configuration by key (sorted), secrets decrypted."""
        with self._errors("read"):
            rows = self._conn.execute(
                "SELECT key, value, secret FROM config WHERE stack = ? "
                "ORDER BY key", (stack,)
            ).fetchall()
        out = {}
        for key, value, secret in rows:
            if secret:
                value = self._keys.open_value(
                    stack, {_SECRET_TAG: value}, f"config value '{key}'")
            out[key] = ConfigValue(value, bool(secret))
        return out

    def set_config(self, stack: str, key: str, value: str,
                   secret: bool) -> None:
        """Set one configuration value (creates the stack if needed)."""
        if not isinstance(value, str):
            raise StateError(
                f"config value '{key}' must be a string, not "
                f"{type(value).__name__}"
            )
        stored = (self._keys.sealer(stack).seal(value)[_SECRET_TAG] if secret
                  else value)
        with self._write() as w:
            self._ensure_stack(w, stack)
            w.execute(
                "INSERT INTO config (stack, key, value, secret) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (stack, key) DO UPDATE "
                "SET value = excluded.value, secret = excluded.secret",
                (stack, key, stored, int(bool(secret))),
            )

    def remove_config(self, stack: str, key: str) -> bool:
        """Remove one configuration value; False when it was not set."""
        with self._write() as w:
            cur = w.execute(
                "DELETE FROM config WHERE stack = ? AND key = ?",
                (stack, key),
            )
            return cur.rowcount > 0

    # -- runs ---------------------------------------------------------------

    def begin_run(self, stack: str, kind: str) -> int:
        """Record the start of a run; returns its id for end_run()."""
        with self._write() as w:
            self._ensure_stack(w, stack)
            cur = w.execute(
                "INSERT INTO runs (stack, kind, started) VALUES (?, ?, ?)",
                (stack, kind, time.time()),
            )
            return int(cur.lastrowid)  # type: ignore[arg-type]

    def end_run(self, run_id: int, result: str,
                counts: Mapping[str, int]) -> None:
        """Record the end of run `run_id`."""
        with self._write() as w:
            cur = w.execute(
                "UPDATE runs SET ended = ?, result = ?, counts = ? "
                "WHERE id = ?",
                (time.time(), result, _encode(dict(counts)), run_id),
            )
            if cur.rowcount == 0:
                raise StateError(
                    f"there is no run {run_id} in {self.path} (was its "
                    "stack removed?); nothing was recorded"
                )

    def runs(self, stack: str, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs of `stack`, newest first (for history)."""
        with self._errors("read"):
            rows = self._conn.execute(
                "SELECT id, kind, started, ended, result, counts FROM runs "
                "WHERE stack = ? ORDER BY id DESC LIMIT ?", (stack, limit)
            ).fetchall()
        return [
            {"id": i, "kind": k, "started": s, "ended": e, "result": r,
             "counts": _decode(c) if c else {}}
            for i, k, s, e, r, c in rows
        ]


class Writer:
    """Batches changes to one stack's resources, providers and outputs;
    flush() commits them in one transaction.  Values are serialized (and
    secrets encrypted) at put(), so later changes to a ResourceState do
    not leak in."""

    def __init__(self, store: Store, stack: str) -> None:
        self.store = store
        self.stack = stack
        # key -> (stack, key, urn, data) to write, or None to delete.
        self._rows: dict[str, tuple[str, str, str, str] | None] = {}
        self._providers: dict[str, bytes] = {}
        self._outputs: str | None = None

    @property
    def pending(self) -> int:
        """Rows queued and not yet flushed."""
        return (len(self._rows) + len(self._providers)
                + (self._outputs is not None))

    def put(self, state: ResourceState) -> None:
        """Queue an insert or replace of the row with state.key."""
        inputs = state.inputs
        outputs = state.outputs
        s_in = state.secret_inputs
        s_out = state.secret_outputs
        if s_in:
            inputs = self._seal(inputs, s_in)
        if s_out:
            outputs = self._seal(outputs, s_out)
        try:
            data = _encode((
                state.type, state.name, state.custom, state.provider,
                state.id, state.parent, inputs, outputs,
                sorted(s_in) if s_in else (), sorted(s_out) if s_out else (),
                state.deps, state.protect, state.retain_on_delete,
                state.pending, state.delete, state.seq,
            ))
        except (TypeError, ValueError) as e:
            raise StateError(
                f"resource {state.urn} cannot be saved: {e}; its inputs and "
                "outputs must be JSON values (str, number, bool, None, "
                "list, dict with str keys)"
            ) from None
        key = state.key
        self._rows[key] = (self.stack, key, state.urn, data)

    def put_plain(self, urn: str, row: tuple[Any, ...]) -> None:
        """put() for a live resource with no secrets, given as the row
        tuple put() writes: (type, name, custom, provider, id, parent,
        inputs, outputs, (), (), deps, protect, retain_on_delete, None,
        False, seq).  The engine's quick path: it skips building a
        ResourceState for each of thousands of resources."""
        try:
            data = _encode(row)
        except (TypeError, ValueError) as e:
            raise StateError(
                f"resource {urn} cannot be saved: {e}; its inputs and "
                "outputs must be JSON values (str, number, bool, None, "
                "list, dict with str keys)"
            ) from None
        self._rows[urn] = (self.stack, urn, urn, data)

    def _seal(self, values: Mapping[str, Any],
              keys: frozenset[str]) -> Mapping[str, Any]:
        present = [k for k in keys if k in values]
        if not present:
            return values
        sealer = self.store._keys.sealer(self.stack)
        sealed = dict(values)
        for k in present:
            sealed[k] = sealer.seal(values[k])
        return sealed

    def discard(self) -> None:
        """Drop everything queued: after a flush failed, what the run says
        was not recorded must stay unrecorded, even if a later flush
        succeeds."""
        self._rows.clear()
        self._providers.clear()
        self._outputs = None

    def remove(self, key: str) -> None:
        """Queue the deletion of the row with `key`."""
        self._rows[key] = None

    def put_provider(self, ref: str, blob: bytes) -> None:
        """Queue the provider `ref` (pickled bytes)."""
        self._providers[ref] = bytes(blob)

    def set_outputs(self, values: Mapping[str, Any],
                    secret_keys: frozenset[str] | set[str] = _NO_KEYS) -> None:
        """Queue the stack's outputs; they replace all previous ones."""
        keys = frozenset(secret_keys)
        values = dict(values)
        if keys:
            values = self._seal(values, keys)
        try:
            self._outputs = _encode([values, sorted(keys)])
        except (TypeError, ValueError) as e:
            raise StateError(
                f"the outputs of stack '{self.stack}' cannot be saved: "
                f"{e}; they must be JSON values"
            ) from None

    def flush(self, progress: Callable[[], object] | None = None) -> None:
        """Commit everything queued in one transaction; nothing queued,
        nothing done.  On error the queue is kept, for a retry.
        progress, if given, is called between chunks of rows (a commit of
        100,000 rows takes a while; the engine tells the stall watchdog
        that this is work, not a stall)."""
        if not self.pending:
            return
        puts = [r for r in self._rows.values() if r is not None]
        removes = [(self.stack, k) for k, r in self._rows.items()
                   if r is None]
        with self.store._write() as w:
            self.store._ensure_stack(w, self.stack)
            for start in range(0, len(puts), _FLUSH_CHUNK):
                if start and progress is not None:
                    progress()
                w.executemany(
                    "INSERT INTO resources (stack, key, urn, data) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (stack, key) DO UPDATE "
                    "SET urn = excluded.urn, data = excluded.data",
                    puts[start:start + _FLUSH_CHUNK],
                )
            if removes:
                w.executemany(
                    "DELETE FROM resources WHERE stack = ? AND key = ?",
                    removes,
                )
            if self._providers:
                w.executemany(
                    "INSERT OR REPLACE INTO providers (stack, ref, blob) "
                    "VALUES (?, ?, ?)",
                    [(self.stack, r, b) for r, b in self._providers.items()],
                )
            if self._outputs is not None:
                w.execute(
                    "INSERT OR REPLACE INTO outputs (stack, data) "
                    "VALUES (?, ?)", (self.stack, self._outputs),
                )
        self._rows.clear()
        self._providers.clear()
        self._outputs = None


# ---------------------------------------------------------------------------
# Checks before SQLite touches a file, and SQLite's errors in our words
# ---------------------------------------------------------------------------

# The fields of a resource row, in order, with the types each may have.
_ROW_TYPES: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("type", (str,)), ("name", (str,)), ("custom", (bool,)),
    # An id that is an integer was accepted from providers before issue
    # 11 (item 12); such rows still load.
    ("provider", (str,)), ("id", (str, int, type(None))),
    ("parent", (str, type(None))), ("inputs", (dict,)),
    ("outputs", (dict,)), ("secret inputs", (list,)),
    ("secret outputs", (list,)), ("dependencies", (list,)),
    ("protect", (bool,)), ("retain_on_delete", (bool,)),
    ("pending", (str, type(None))), ("delete", (bool,)), ("seq", (int,)),
)
_JSON_NAMES = {str: "a string", bool: "true or false", dict: "an object",
               list: "a list", int: "an integer", type(None): "null",
               float: "a number"}


def _decode_rows(path: Path, stack: str, rows: list[Any]) -> list[Any]:
    """The JSON of resource rows (key, urn, data) of `stack`."""
    # One decode of all rows joined into a JSON array costs about half
    # of one decode per row; a row that is not one JSON value breaks
    # it or changes the count, and the slow way then names that row.
    try:
        decoded = _decode("[" + ",".join([r[2] for r in rows]) + "]")
    except ValueError:
        decoded = None
    if decoded is not None and len(decoded) == len(rows):
        return decoded
    decoded = []
    for _, urn, data in rows:
        try:
            decoded.append(_decode(data))
        except ValueError:
            raise _damaged_row(path, stack, urn) from None
    return decoded


def _damaged_row(path: Path, stack: str, urn: str,
                 why: str = "it is not valid JSON") -> CorruptStateError:
    quoted_stack = stack.replace("'", "''")
    quoted_urn = urn.replace("'", "''")
    return CorruptStateError(
        f"the row of {urn} in stack '{stack}' of {path} is "
        f"damaged ({why}); Outrun left the file untouched. Restore "
        "the file from a backup, or remove that one row (the resource "
        "is then forgotten, not deleted; the rest of the state is "
        f"kept) with: sqlite3 {path} \"DELETE FROM resources "
        f"WHERE stack = '{quoted_stack}' AND urn = '{quoted_urn}'\""
    )


def _not_all_str(*lists: list[Any]) -> bool:
    return any(type(x) is not str for items in lists for x in items)


def _wrong_field(row: list[Any]) -> str:
    """Which field of a decoded resource row has the wrong type."""
    for (field_name, types), value in zip(_ROW_TYPES, row):
        if type(value) not in types:
            want = " or ".join(_JSON_NAMES[t] for t in types)
            got = _JSON_NAMES.get(type(value), type(value).__name__)
            return f"its field '{field_name}' is {got}, not {want}"
        if types == (list,) and _not_all_str(value):
            return f"its field '{field_name}' holds something not a string"
    return "a field has the wrong type"


def _uri_path(path: Path) -> str:
    return urllib.parse.quote(str(path.absolute()))


def _damaged(path: Path, why: str) -> CorruptStateError:
    return CorruptStateError(
        f"{path} is not a usable Outrun state database ({why}); Outrun left "
        "it untouched. Restore it from a backup, or move it aside to start "
        "with an empty state (the resources it tracked are then forgotten, "
        "not deleted)"
    )


def _check_file(path: Path, create: bool) -> bool:
    """Validates what is at `path` before SQLite opens it for writing; True
    when there is nothing there yet, so the state is to be made.

    The header says how long the file should be; a shorter file was cut
    short.  But in WAL mode the file alone is not the database: a
    checkpoint that ran out of disk space leaves a main file shorter than
    its header while the -wal file still holds every page, and a
    checkpoint by a concurrent process can be caught half done.  So a
    file whose header looks wrong is called damaged only when SQLite
    itself, reading it with its -wal file, cannot verify it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        if not create:
            raise StateError(
                f"there is no Outrun state at {path}; run Outrun in the "
                "project folder, or create the state with `outrun up`"
            ) from None
        return True
    except OSError as e:
        raise StateError(
            f"cannot read the state database {path}: {e.strerror or e}"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise StateError(
            f"cannot read the state database {path}: it is a folder "
            "(Is a directory); move it aside"
        )
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as e:
        raise StateError(
            f"cannot read the state database {path}: {e.strerror or e}; "
            "check its permissions and those of its folder"
        ) from None
    if st.st_size == 0:
        # Outrun makes its state whole and links it into place, and SQLite
        # writes the first page before any log: an empty file was emptied
        # by something else (a copy onto a full disk, a tool, `touch`).
        # SQLite would take it for a new database and delete a -wal file
        # beside it, so it is not opened.
        raise CorruptStateError(
            f"{path} is empty (0 bytes), so it holds no state; Outrun "
            "left it untouched. If it held resources, restore it from a "
            "backup; otherwise delete it (and any state.db-wal beside "
            "it) and run again"
        )
    doubt = _header_doubt(header, st.st_size)
    if doubt is None:
        return False
    if doubt.endswith("cut short") or _has_wal(path):
        # What the header cannot tell, SQLite can: the missing pages may
        # be in the log, or a concurrent checkpoint was half done.
        problem = _sqlite_check(path)
        if problem is None:
            return False
        doubt += f"; SQLite's own check says: {problem}"
    raise _damaged(path, doubt)


def _header_doubt(header: bytes, size: int) -> str | None:
    """What is wrong with a database file, judged from its first 100
    bytes and its size alone; None when nothing is."""
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        return "it is not an SQLite database"
    page_size = int.from_bytes(header[16:18], "big")
    if page_size == 1:
        page_size = 65536
    if page_size < 512 or page_size & (page_size - 1):
        return "its header is damaged"
    # The page count in the header is valid when the change counter
    # (offset 24) matches version-valid-for (offset 92); a file shorter
    # than it says was truncated.
    pages = int.from_bytes(header[28:32], "big")
    valid = pages and header[24:28] == header[92:96]
    if valid and size < pages * page_size:
        return (f"it is {size} bytes where its header says "
                f"{pages * page_size}: it was cut short")
    return None


def _has_wal(path: Path) -> bool:
    try:
        return os.stat(str(path) + "-wal").st_size > 0
    except OSError:
        return False


def _sqlite_check(path: Path) -> str | None:
    """SQLite's integrity check of the database at `path` with its -wal
    file, on a read-only connection (which never checkpoints, so the
    files stay as they are); None when it passes, else what it says.
    Only for a file whose header is in doubt: it reads every page."""
    # Without a -wal file the main file is the whole database: read it as
    # immutable, which makes no -wal or -shm file beside it.
    immutable = not os.path.exists(str(path) + "-wal")
    try:
        db = sqlite3.connect(
            f"file:{_uri_path(path)}?mode=ro"
            + ("&immutable=1" if immutable else ""),
            uri=True, isolation_level=None)
    except sqlite3.Error as e:
        return str(e)
    try:
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        rows = db.execute("PRAGMA integrity_check(3)").fetchall()
    except sqlite3.Error as e:
        return str(e)
    finally:
        db.close()
    if rows == [("ok",)]:
        return None
    return "; ".join(str(r[0]) for r in rows) or "no answer"


def _create(path: Path) -> None:
    """Makes a new, complete state at `path` unless one is there already:
    built under a temporary name in the same folder, then hard-linked to
    `path`, which fails if another process linked its own first (that
    one is then used: it is complete too)."""
    folder = path.parent
    _remove_stale_temporaries(folder)
    tmp = folder / f"{path.name}.{os.getpid()}.{_random.token_hex(4)}.tmp"
    try:
        try:
            db = sqlite3.connect(
                "file:" + _uri_path(tmp) + "?mode=rwc", uri=True,
                isolation_level=None,
            )
        except sqlite3.Error as e:
            raise _translate(e, tmp, "create") from None
        try:
            with contextlib.closing(db):
                # In the file itself (a rollback journal) first, then WAL
                # as the last change: the file holds everything, and the
                # log is empty when the connection closes.
                db.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("schema_version", str(SCHEMA_VERSION)),
                        ("created_by", _outrun_version()),
                        ("created", repr(time.time())),
                    ],
                )
                db.execute("COMMIT")
                db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as e:
            raise _translate(e, path, "create") from None
        if _has_wal(tmp):
            raise StateError(
                f"cannot create the state database {path}: SQLite left "
                "its write-ahead log behind (is the disk full?); free some "
                "space and run again"
            )
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # Another run made it first.
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP,
                               errno.EMLINK, errno.ENOSYS):
                raise StateError(
                    f"cannot create the state database {path}: "
                    f"{e.strerror or e}; check that its folder is writable"
                ) from None
            # A file system without hard links: rename, which replaces
            # what is there, so only when nothing is (a concurrent first
            # run can still slip in between; there is no better way here).
            if not path.exists():
                os.replace(tmp, path)
        _sync_folder(folder)
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.unlink(str(tmp) + suffix)


def _remove_stale_temporaries(folder: Path) -> None:
    """Removes the half-built states of runs that died while making one
    (their name holds their pid)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        parts = name.split(".")
        if not (name.startswith("state.db.") and name.endswith(".tmp")
                and len(parts) == 5 and parts[2].isdigit()):
            continue
        pid = int(parts[2])
        if pid != os.getpid() and _process_gone(pid, None):
            with contextlib.suppress(OSError):
                os.unlink(folder / name)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# SQLite's primary result codes.
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26


def _translate(e: sqlite3.Error, path: Path, doing: str) -> StateError:
    code = getattr(e, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return _damaged(path, str(e))
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StateError(
            f"{path} stayed busy for {_BUSY_TIMEOUT_MS // 1000} s (another "
            f"process is writing to it) so Outrun could not {doing} it; "
            "try again when that process is done"
        )
    if primary in (_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_CANTOPEN):
        return StateError(
            f"cannot {doing} the state database {path}: {e}; check the "
            "permissions of the file, of its -wal and -shm files and of "
            "its folder"
        )
    if primary == _SQLITE_FULL:
        return StateError(
            f"cannot {doing} {path}: the disk is full; free some space and "
            "run again (the last committed state is intact)"
        )
    if primary == _SQLITE_IOERR:
        return StateError(
            f"cannot {doing} {path}: an I/O error ({e}); check the disk"
        )
    return StateError(f"cannot {doing} the state database {path}: {e}")
