"""The state store, outrun._engine.state, on real SQLite files."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from outrun._engine import state as state_mod
from outrun._engine.state import (
    ConfigValue,
    CorruptStateError,
    NewerStateError,
    PassphraseError,
    ResourceState,
    StackLockedError,
    StateError,
    Store,
    passphrase_from_env_or_prompt,
)

STATE_PY = Path(state_mod.__file__).resolve()

# A child process loads state.py by its path, so it needs neither the
# host nor _outrun.
CHILD_PRELUDE = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("state", {str(STATE_PY)!r})
state = importlib.util.module_from_spec(spec)
sys.modules["state"] = state
spec.loader.exec_module(state)
"""


class Phrase:
    """A passphrase source that counts its calls and records `new`."""

    def __init__(self, value: str = "correct horse") -> None:
        self.value = value
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, stack: str, new: bool) -> str:
        self.calls.append((stack, new))
        return self.value


def open_store(project: Path, phrase=None, **kw) -> Store:
    return Store.open(project, passphrase=phrase or Phrase(), **kw)


def res(i: int, **kw) -> ResourceState:
    fields = {
        "urn": f"urn:pulumi:dev::proj::t:index:Thing::r{i}",
        "type": "t:index:Thing",
        "name": f"r{i}",
        "custom": True,
        "inputs": {"n": i},
        "seq": i,
    }
    fields.update(kw)
    return ResourceState(**fields)


def raw_bytes(project: Path) -> bytes:
    """The database and its write-ahead log, as they are on disk."""
    data = b""
    for suffix in ("", "-wal"):
        p = project / ".outrun" / ("state.db" + suffix)
        if p.exists():
            data += p.read_bytes()
    return data


def dump(project: Path) -> list[str]:
    db = sqlite3.connect(project / ".outrun" / "state.db")
    try:
        return list(db.iterdump())
    finally:
        db.close()


def run_child(code: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD_PRELUDE + code],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, **kw,
    )


# -- opening -------------------------------------------------------------

def test_open_creates_folder_and_wal_database(tmp_path):
    store = open_store(tmp_path)
    try:
        assert store.path == tmp_path / ".outrun" / "state.db"
        assert store.path.is_file()
        assert not (tmp_path / ".outrun" / ".gitignore").exists()
    finally:
        store.close()
    db = sqlite3.connect(store.path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        meta = dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()
    assert meta["schema_version"] == "1"
    assert "created_by" in meta


def test_open_without_create_needs_the_database(tmp_path):
    with pytest.raises(StateError, match="no Outrun state at"):
        Store.open(tmp_path, create=False)
    assert not (tmp_path / ".outrun").exists()
    open_store(tmp_path).close()
    store = Store.open(tmp_path, create=False)
    store.close()


def test_reopen_keeps_everything(tmp_path):
    with open_store(tmp_path) as store:
        store.create_stack("dev")
        store.set_config("dev", "region", "eu", secret=False)
    with open_store(tmp_path) as store:
        assert store.has_stack("dev")
        assert store.config("dev") == {"region": ConfigValue("eu", False)}


@pytest.mark.parametrize("content", ["random", "text", "truncated"])
def test_damaged_file_is_refused_and_left_untouched(tmp_path, content):
    path = tmp_path / ".outrun" / "state.db"
    if content == "truncated":
        with open_store(tmp_path) as store:
            w = store.writer("dev")
            for i in range(300):
                w.put(res(i, inputs={"pad": "x" * 500}))
            w.flush()
        whole = path.read_bytes()
        assert len(whole) > 8192
        path.write_bytes(whole[: len(whole) // 2])
    else:
        path.parent.mkdir()
        if content == "random":
            path.write_bytes(os.urandom(8192))
        else:
            path.write_text("region: eu\nthis is not a database\n" * 20)
    before = path.read_bytes()
    with pytest.raises(CorruptStateError) as info:
        open_store(tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert "untouched" in message and "backup" in message
    if content == "truncated":
        assert "cut short" in message
    assert path.read_bytes() == before
    assert not Path(str(path) + "-wal").exists()


def test_sqlite_file_of_another_program_is_refused(tmp_path):
    path = tmp_path / ".outrun" / "state.db"
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE photos (id INTEGER)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(CorruptStateError, match="not Outrun state"):
        open_store(tmp_path)
    assert path.read_bytes() == before


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    open_store(tmp_path).close()
    path = tmp_path / ".outrun" / "state.db"
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(NewerStateError) as info:
        open_store(tmp_path)
    message = str(info.value)
    assert "state schema 2; this one reads up to 1" in message
    assert "Upgrade Outrun" in message and "not changed" in message
    assert path.read_bytes() == before


def test_empty_file_is_refused_and_left_untouched(tmp_path):
    # Outrun makes its state whole and links it into place, so an empty
    # state.db is not one of its own: it is refused, never taken for a
    # new state (which would hide the loss of the one that was there).
    path = tmp_path / ".outrun" / "state.db"
    path.parent.mkdir()
    path.write_bytes(b"")
    with pytest.raises(CorruptStateError) as info:
        open_store(tmp_path)
    message = str(info.value)
    assert "empty (0 bytes)" in message and "untouched" in message
    assert "backup" in message and "delete it" in message
    assert path.read_bytes() == b""
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.db"]


def test_checkpoint_cut_short_by_a_full_disk_is_not_damage(tmp_path):
    # Issue 11, item 8.  A checkpoint that runs out of space writes the
    # first page (whose header gives the new length) and fails to extend
    # the file; the -wal file still holds every page.  The file is then
    # shorter than its header says, and yet SQLite reads all of it.
    code = f"""
import os, sys
store = state.Store.open({str(tmp_path)!r}, passphrase=lambda: "x")
w = store.writer("dev")
for i in range(300):
    w.put(state.ResourceState(
        urn=f"urn:r{{i}}", type="t", name=f"r{{i}}", custom=True,
        inputs={{"pad": "x" * 500}}, seq=i))
w.flush()
os._exit(0)   # no close: the rows stay in the -wal file
"""
    child = run_child(code)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    path = tmp_path / ".outrun" / "state.db"
    # A checkpoint under a file size limit (RLIMIT_FSIZE; SIGXFSZ ignored,
    # so the write fails with EFBIG as it does with ENOSPC on a full disk).
    code = f"""
import os, resource, signal, sqlite3
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
# Room for the -shm file (32 KiB), not for every page of the log.
limit = os.path.getsize({str(path)!r}) + 65536
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
db = sqlite3.connect({str(path)!r}, isolation_level=None)
try:
    print(db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall())
except sqlite3.Error as e:
    print("checkpoint failed:", e)
os._exit(0)
"""
    child = run_child(code)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    header = path.read_bytes()[:100]
    claimed = int.from_bytes(header[28:32], "big") * int.from_bytes(
        header[16:18], "big")
    assert path.stat().st_size < claimed, (
        "the setup did not leave a file shorter than its header says",
        out, path.stat().st_size, claimed)
    with open_store(tmp_path) as store:
        assert len(store.resources("dev")) == 300
    # Once there is room, closing the store copied the log into the file.
    assert path.stat().st_size >= claimed


def test_concurrent_first_opens_see_no_file_or_a_whole_one(tmp_path):
    # Issue 11, item 9: a run that finds the state half made (the file
    # there, the schema not yet) took it for another program's database.
    # Pairs of processes open fresh projects at the same instant.
    pairs = 40
    code = """
import sys, time
project, start = sys.argv[1], float(sys.argv[2])
while time.time() < start:
    pass
try:
    store = state.Store.open(project, passphrase=lambda: "x")
    store.create_stack("dev")
    store.close()
    print("ok")
except state.StateError as e:
    print("error:", e)
"""
    outcomes = []
    for i in range(pairs):
        project = tmp_path / f"p{i}"
        project.mkdir()
        start = time.time() + 0.3
        procs = [subprocess.Popen(
            [sys.executable, "-c", CHILD_PRELUDE + code, str(project),
             repr(start)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True) for _ in range(2)]
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            outcomes.append((proc.returncode, out.strip(), err))
        assert sorted(os.listdir(project / ".outrun"))[:1] == ["state.db"]
        assert not [n for n in os.listdir(project / ".outrun")
                    if n.endswith(".tmp")]
    bad = [o for o in outcomes if o[:2] != (0, "ok")]
    assert not bad, bad


def test_folder_in_place_of_the_database(tmp_path):
    (tmp_path / ".outrun" / "state.db").mkdir(parents=True)
    with pytest.raises(StateError, match="it is a folder"):
        open_store(tmp_path)


def test_unreadable_database_says_permission_denied(tmp_path):
    # Root reads anything, so as root a child gives up its rights after
    # loading the module and opens a file it may not read.
    project = Path(tempfile.mkdtemp(prefix="outrun-state-"))
    try:
        open_store(project).close()
        project.chmod(0o755)
        (project / ".outrun").chmod(0o755)
        (project / ".outrun" / "state.db").chmod(0o000)
        code = f"""
import os
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
try:
    state.Store.open({str(project)!r}, create=False)
except state.StateError as e:
    print(type(e).__name__ + ": " + str(e))
else:
    print("opened")
"""
        child = run_child(code)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert out.startswith("StateError: "), out
        assert "Permission denied" in out
    finally:
        (project / ".outrun" / "state.db").chmod(0o600)
        for p in sorted(project.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
        project.rmdir()


# -- resources -----------------------------------------------------------

def test_every_field_round_trips(tmp_path):
    live = ResourceState(
        urn="urn:pulumi:dev::proj::t:index:Thing::a",
        type="t:index:Thing",
        name="a",
        custom=True,
        provider="urn:pulumi:dev::proj::pulumi:providers:t::default::42",
        id="i-123",
        parent="urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev",
        inputs={"size": 3, "tags": {"k": "v"}, "list": [1, None, 2.5],
                "pw": "hunter2-input", "unicode": "d\u00e9j\u00e0 \u2713"},
        outputs={"arn": "arn:1", "token": {"nested": ["hunter2-output"]}},
        secret_inputs=frozenset({"pw", "absent"}),
        secret_outputs=frozenset({"token"}),
        deps=("urn:b", "urn:c"),
        protect=True,
        retain_on_delete=True,
        pending="updating",
        delete=False,
        seq=7,
    )
    old = ResourceState(
        urn=live.urn, type=live.type, name="a", custom=False, delete=True,
        seq=3,
    )
    with open_store(tmp_path) as store:
        w = store.writer("dev")
        w.put(live)
        w.put(old)
        w.flush()
    with open_store(tmp_path) as store:
        got = store.resources("dev")
    assert set(got) == {live.urn, live.urn + "#delete"}
    assert got[live.urn] == live
    assert got[live.urn + "#delete"] == old
    assert isinstance(got[live.urn].deps, tuple)
    assert isinstance(got[live.urn].secret_inputs, frozenset)


@pytest.mark.parametrize("field,value,said", [
    (8, 7, "'secret inputs' is an integer, not a list"),
    (10, 5, "'dependencies' is an integer, not a list"),
    (6, [1], "'inputs' is a list, not an object"),
    (0, None, "'type' is null, not a string"),
    (10, [1, 2], "'dependencies' holds something not a string"),
    (15, "3", "'seq' is a string, not an integer"),
])
def test_row_of_the_right_length_with_wrong_types_is_refused(
        tmp_path, field, value, said):
    # Issue 11, item 10: it gave "TypeError: 'int' object is not
    # iterable" (or went through, to fail far from here).
    with open_store(tmp_path) as store:
        w = store.writer("dev")
        w.put(res(1))
        w.put(res(2))
        w.flush()
    path = tmp_path / ".outrun" / "state.db"
    urn = res(2).urn
    db = sqlite3.connect(path)
    row = json.loads(db.execute("SELECT data FROM resources WHERE urn = ?",
                                (urn,)).fetchone()[0])
    row[field] = value
    db.execute("UPDATE resources SET data = ? WHERE urn = ?",
               (json.dumps(row), urn))
    db.commit()
    db.close()
    before = dump(tmp_path)
    with open_store(tmp_path) as store:
        with pytest.raises(CorruptStateError) as info:
            store.resources("dev")
    message = str(info.value)
    assert urn in message and "stack 'dev'" in message, message
    assert said in message, message
    assert "untouched" in message and "backup" in message, message
    # What to do instead of losing everything: remove that one row.
    command = message[message.index("sqlite3 "):]
    assert f"urn = '{urn}'" in command and "stack = 'dev'" in command
    assert dump(tmp_path) == before


def test_outputs_row_of_the_wrong_shape_is_refused(tmp_path):
    with open_store(tmp_path) as store:
        w = store.writer("dev")
        w.set_outputs({"a": 1})
        w.flush()
    db = sqlite3.connect(tmp_path / ".outrun" / "state.db")
    db.execute("UPDATE outputs SET data = '[1, 2]'")
    db.commit()
    db.close()
    with open_store(tmp_path) as store:
        with pytest.raises(CorruptStateError, match="outputs row of stack "
                           "'dev'.*DELETE FROM outputs"):
            store.outputs("dev")
        with pytest.raises(CorruptStateError):
            store.outputs_masked("dev")


def test_flush_commits_the_batch_in_one_transaction(tmp_path):
    store = open_store(tmp_path)
    statements: list[str] = []
    try:
        store._db.set_trace_callback(statements.append)
        other = sqlite3.connect(store.path)
        w = store.writer("dev")
        for i in range(500):
            w.put(res(i))
        assert w.pending == 500
        statements.clear()
        assert store.has_stack("dev") is False
        assert other.execute("SELECT count(*) FROM resources").fetchone() \
            == (0,)
        statements.clear()
        w.flush()
        assert w.pending == 0
        assert statements.count("BEGIN IMMEDIATE") == 1
        assert statements.count("COMMIT") == 1
        assert other.execute("SELECT count(*) FROM resources").fetchone() \
            == (500,)
        statements.clear()
        w.flush()
        assert statements == []
        other.close()
    finally:
        store.close()


def test_later_put_of_the_same_key_wins_and_remove_deletes(tmp_path):
    with open_store(tmp_path) as store:
        w = store.writer("dev")
        w.put(res(1, id="first"))
        w.put(res(1, id="second"))
        w.put(res(2))
        w.put(res(3))
        assert w.pending == 3
        w.flush()
        assert store.resources("dev")[res(1).urn].id == "second"
        w.remove(res(2).urn)
        w.put(res(4))
        w.remove(res(4).urn)  # queued put then remove: never written
        w.remove("urn:never-there")
        w.flush()
        assert set(store.resources("dev")) == {res(1).urn, res(3).urn}


def test_put_serializes_at_once(tmp_path):
    with open_store(tmp_path) as store:
        w = store.writer("dev")
        r = res(1, inputs={"n": 1})
        w.put(r)
        r.inputs["n"] = 2
        w.flush()
        assert store.resources("dev")[r.urn].inputs == {"n": 1}


def test_put_of_a_value_json_cannot_hold(tmp_path):
    with open_store(tmp_path) as store:
        w = store.writer("dev")
        with pytest.raises(StateError, match=r"r1 cannot be saved"):
            w.put(res(1, inputs={"n": object()}))
        assert w.pending == 0


def test_stacks_do_not_share_resources(tmp_path):
    with open_store(tmp_path) as store:
        for stack in ("dev", "prod"):
            w = store.writer(stack)
            w.put(res(1, id=stack))
            w.flush()
        assert store.resources("dev")[res(1).urn].id == "dev"
        assert store.resources("prod")[res(1).urn].id == "prod"
        assert store.resources("none") == {}


def test_providers_round_trip(tmp_path):
    with open_store(tmp_path) as store:
        w = store.writer("dev")
        w.put_provider("ref-a", b"\x80\x04pickled\x00a")
        w.put_provider("ref-b", b"b")
        assert w.pending == 2
        w.flush()
        w.put_provider("ref-b", b"b2")
        w.flush()
        assert store.providers("dev") == {"ref-a": b"\x80\x04pickled\x00a",
                                          "ref-b": b"b2"}
        assert store.providers("prod") == {}


def test_outputs_replace_all(tmp_path):
    with open_store(tmp_path) as store:
        assert store.outputs("dev") == ({}, frozenset())
        w = store.writer("dev")
        w.set_outputs({"url": "http://x", "pw": "s3cr3t", "n": [1]},
                      frozenset({"pw"}))
        w.flush()
        assert store.outputs("dev") == (
            {"url": "http://x", "pw": "s3cr3t", "n": [1]}, frozenset({"pw"}))
        w.set_outputs({"only": 1}, frozenset())
        w.flush()
        assert store.outputs("dev") == ({"only": 1}, frozenset())


# -- config --------------------------------------------------------------

def test_config_set_overwrite_remove(tmp_path):
    with open_store(tmp_path) as store:
        store.set_config("dev", "zone", "b", secret=False)
        store.set_config("dev", "apikey", "k-1", secret=True)
        store.set_config("dev", "region", "eu", secret=False)
        store.set_config("dev", "region", "us", secret=True)
        store.set_config("prod", "region", "ap", secret=False)
        got = store.config("dev")
        assert list(got) == ["apikey", "region", "zone"]
        assert got == {
            "apikey": ConfigValue("k-1", True),
            "region": ConfigValue("us", True),
            "zone": ConfigValue("b", False),
        }
        assert store.remove_config("dev", "zone") is True
        assert store.remove_config("dev", "zone") is False
        assert set(store.config("dev")) == {"apikey", "region"}
        assert store.config("prod") == {"region": ConfigValue("ap", False)}


# -- stacks and runs -----------------------------------------------------

def test_stacks_summaries_count_live_resources_and_last_run(tmp_path):
    with open_store(tmp_path) as store:
        store.create_stack("zeta")
        store.create_stack("alpha")
        store.create_stack("alpha")
        w = store.writer("alpha")
        w.put(res(1))
        w.put(res(2))
        w.put(res(2, delete=True))
        w.flush()
        first = store.begin_run("alpha", "up")
        store.end_run(first, "failed", {"create": 1})
        second = store.begin_run("alpha", "destroy")
        assert second != first
        store.end_run(second, "succeeded", {"delete": 2, "same": 0})
        running = store.begin_run("zeta", "up")
        summaries = store.stacks()
        assert [s.name for s in summaries] == ["alpha", "zeta"]
        alpha, zeta = summaries
        assert alpha.resources == 2
        assert (alpha.last_run, alpha.last_result) == ("destroy", "succeeded")
        assert isinstance(alpha.last_time, float)
        assert zeta.resources == 0
        assert (zeta.last_run, zeta.last_result, zeta.last_time) == (
            "up", None, None)
        store.end_run(running, "interrupted", {})
        assert store.stacks()[1].last_result == "interrupted"
        assert store.runs("alpha")[0]["counts"] == {"delete": 2, "same": 0}
        with pytest.raises(StateError, match="no run 999"):
            store.end_run(999, "failed", {})


def test_remove_stack_refuses_while_it_has_resources(tmp_path):
    with open_store(tmp_path) as store:
        w = store.writer("dev")
        w.put(res(1))
        w.put_provider("p", b"x")
        w.set_outputs({"a": 1}, frozenset())
        w.flush()
        store.set_config("dev", "k", "v", secret=False)
        store.end_run(store.begin_run("dev", "up"), "succeeded", {})
        with pytest.raises(StateError, match="still has 1 resource;"):
            store.remove_stack("dev")
        assert store.has_stack("dev")
        assert len(store.resources("dev")) == 1
        w.remove(res(1).urn)
        w.flush()
        store.remove_stack("dev")
        assert not store.has_stack("dev")
        assert store.config("dev") == {}
        assert store.outputs("dev") == ({}, frozenset())
        assert store.providers("dev") == {}
        assert store.runs("dev") == []
        with pytest.raises(StateError, match="no stack 'dev'"):
            store.remove_stack("dev")


def test_remove_stack_with_force_forgets_resources(tmp_path):
    with open_store(tmp_path) as store:
        w = store.writer("dev")
        w.put(res(1))
        w.put(res(2))
        w.flush()
        store.remove_stack("dev", force=True)
        assert store.resources("dev") == {}
        assert store.stacks() == []


# -- secrets -------------------------------------------------------------

def test_secrets_never_reach_the_file_in_plaintext(tmp_path):
    store = open_store(tmp_path)
    w = store.writer("dev")
    w.put(res(1, inputs={"pw": "PLAIN-INPUT-1", "visible": "SHOWN-1"},
              outputs={"tok": {"deep": "PLAIN-OUTPUT-2"}},
              secret_inputs=frozenset({"pw"}),
              secret_outputs=frozenset({"tok"})))
    w.set_outputs({"o": "PLAIN-STACK-OUTPUT-3"}, frozenset({"o"}))
    w.flush()
    store.set_config("dev", "apikey", "PLAIN-CONFIG-4", secret=True)
    # While the store is open the rows sit in the write-ahead log.
    for phase in ("open", "closed"):
        data = raw_bytes(tmp_path)
        assert b"SHOWN-1" in data, phase
        for secret in (b"PLAIN-INPUT-1", b"PLAIN-OUTPUT-2",
                       b"PLAIN-STACK-OUTPUT-3", b"PLAIN-CONFIG-4"):
            assert secret not in data, (phase, secret)
        store.close()
    with open_store(tmp_path) as store:
        r = store.resources("dev")[res(1).urn]
        assert r.inputs["pw"] == "PLAIN-INPUT-1"
        assert r.outputs["tok"] == {"deep": "PLAIN-OUTPUT-2"}
        assert store.outputs("dev")[0] == {"o": "PLAIN-STACK-OUTPUT-3"}
        assert store.config("dev")["apikey"].value == "PLAIN-CONFIG-4"


def test_wrong_passphrase_is_refused_and_nothing_is_written(tmp_path):
    with open_store(tmp_path, Phrase("right")) as store:
        store.set_config("dev", "apikey", "k", secret=True)
        w = store.writer("dev")
        w.put(res(1, inputs={"pw": "p"}, secret_inputs=frozenset({"pw"})))
        w.flush()
    before = dump(tmp_path)
    with open_store(tmp_path, Phrase("wrong")) as store:
        for read in (store.config, store.resources):
            with pytest.raises(PassphraseError) as info:
                read("dev")
            assert "OUTRUN_CONFIG_PASSPHRASE" in str(info.value)
            assert "stack 'dev'" in str(info.value)
        w = store.writer("dev")
        with pytest.raises(PassphraseError):
            w.put(res(2, inputs={"pw": "q"},
                      secret_inputs=frozenset({"pw"})))
        assert w.pending == 0
        w.flush()
        with pytest.raises(PassphraseError):
            store.set_config("dev", "other", "x", secret=True)
        with pytest.raises(PassphraseError):
            w.set_outputs({"o": 1}, frozenset({"o"}))
        assert w.pending == 0
    assert dump(tmp_path) == before


def test_passphrase_asked_only_for_secrets_and_once(tmp_path):
    phrase = Phrase()
    with open_store(tmp_path, phrase) as store:
        w = store.writer("dev")
        w.put(res(1))
        w.set_outputs({"a": 1}, frozenset())
        w.flush()
        store.set_config("dev", "k", "v", secret=False)
        store.resources("dev")
        store.config("dev")
        store.outputs("dev")
        assert phrase.calls == []
        store.set_config("dev", "s", "v", secret=True)
        store.set_config("prod", "s", "v", secret=True)
        store.config("dev")
        assert phrase.calls == [("dev", True)]
    phrase = Phrase()
    with open_store(tmp_path, phrase) as store:
        store.resources("dev")
        assert phrase.calls == []
        assert store.config("dev")["s"].value == "v"
        assert store.config("prod")["s"].value == "v"
        assert phrase.calls == [("dev", False)]


@pytest.mark.parametrize("kind", ["none", "stack"])
def test_passphrase_sources_of_fewer_arguments(tmp_path, kind):
    calls = []
    if kind == "none":
        def source():
            calls.append(())
            return "pw"
    else:
        def source(stack):
            calls.append((stack,))
            return "pw"
    with Store.open(tmp_path, passphrase=source) as store:
        store.set_config("dev", "s", "v", secret=True)
        assert store.config("dev")["s"].value == "v"
    assert calls == [()] if kind == "none" else [("dev",)]


def test_empty_passphrase_is_a_passphrase(tmp_path):
    with open_store(tmp_path, Phrase("")) as store:
        store.set_config("dev", "s", "v", secret=True)
    with open_store(tmp_path, Phrase("")) as store:
        assert store.config("dev")["s"].value == "v"
    with open_store(tmp_path, Phrase(" ")) as store, \
            pytest.raises(PassphraseError):
        store.config("dev")


def test_secret_moved_to_another_stack_does_not_open(tmp_path):
    # The stack name is bound into each ciphertext, so a value copied
    # between stacks that share a passphrase is detected.
    with open_store(tmp_path) as store:
        store.set_config("dev", "s", "dev-secret", secret=True)
        store.set_config("prod", "s", "prod-secret", secret=True)
    db = sqlite3.connect(tmp_path / ".outrun" / "state.db")
    db.execute("UPDATE config SET value = (SELECT value FROM config WHERE "
               "stack = 'dev') WHERE stack = 'prod'")
    db.commit()
    db.close()
    with open_store(tmp_path) as store:
        assert store.config("dev")["s"].value == "dev-secret"
        with pytest.raises(CorruptStateError, match="does not decrypt"):
            store.config("prod")


def test_passphrase_from_environment(monkeypatch):
    monkeypatch.setenv("OUTRUN_CONFIG_PASSPHRASE", "from-env")
    assert passphrase_from_env_or_prompt("dev") == "from-env"
    monkeypatch.setenv("OUTRUN_CONFIG_PASSPHRASE", "")
    assert passphrase_from_env_or_prompt("dev") == ""


def test_passphrase_without_environment_or_terminal(monkeypatch):
    monkeypatch.delenv("OUTRUN_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(PassphraseError, match="set OUTRUN_CONFIG_PASSPHRASE"):
        passphrase_from_env_or_prompt("dev")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_passphrase_prompt_confirms_a_new_one(monkeypatch):
    monkeypatch.delenv("OUTRUN_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.setattr(sys, "stdin", Tty(""))
    typed = iter(["one", "one", "one", "two", "known"])
    prompts = []

    def fake_getpass(prompt=""):
        prompts.append(prompt)
        return next(typed)

    monkeypatch.setattr(state_mod.getpass, "getpass", fake_getpass)
    assert passphrase_from_env_or_prompt("dev", new=True) == "one"
    assert len(prompts) == 2
    with pytest.raises(PassphraseError, match="differ"):
        passphrase_from_env_or_prompt("dev", new=True)
    assert passphrase_from_env_or_prompt("dev") == "known"
    assert len(prompts) == 5
    assert "'dev'" in prompts[-1]


# -- locks ---------------------------------------------------------------

def test_lock_between_two_stores(tmp_path):
    with open_store(tmp_path) as first, open_store(tmp_path) as second:
        lock = first.lock("dev", "up")
        assert lock.cleared_stale is None
        with pytest.raises(StackLockedError) as info:
            second.lock("dev", "destroy")
        message = str(info.value)
        assert "stack 'dev' is locked by `outrun up`" in message
        assert f"pid {os.getpid()} on {socket.gethostname()}" in message
        assert "s ago" in message
        other_stack = second.lock("prod", "preview")
        lock.release()
        lock.release()
        with second.lock("dev", "destroy") as taken:
            assert taken.held
            with pytest.raises(StackLockedError, match="`outrun destroy`"):
                first.lock("dev", "up")
        assert not taken.held
        other_stack.release()
        first.lock("dev", "up").release()


def test_close_releases_the_locks_of_a_store(tmp_path):
    store = open_store(tmp_path)
    store.lock("dev", "up")
    store.close()
    with open_store(tmp_path) as again:
        again.lock("dev", "up").release()


def test_lock_held_by_a_live_process_then_killed(tmp_path):
    code = f"""
store = state.Store.open({str(tmp_path)!r})
lock = store.lock("dev", "up")
print("locked", flush=True)
sys.stdin.read()
"""
    child = run_child(code)
    try:
        assert child.stdout.readline() == "locked\n", child.stderr.read()
        with open_store(tmp_path) as store:
            with pytest.raises(StackLockedError) as info:
                store.lock("dev", "up")
            assert f"pid {child.pid} on" in str(info.value)
            assert "cleared automatically" in str(info.value)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
            lock = store.lock("dev", "preview")
            assert lock.cleared_stale is not None
            assert f"pid {child.pid} on" in lock.cleared_stale
            assert "`outrun up`" in lock.cleared_stale
            lock.release()
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=60)


def insert_lock(project: Path, pid: int, host: str, proc_start) -> None:
    db = sqlite3.connect(project / ".outrun" / "state.db")
    db.execute(
        "INSERT INTO locks (stack, pid, host, kind, started, proc_start, "
        "token) VALUES ('dev', ?, ?, 'up', strftime('%s','now') - 5, ?, "
        "'t')", (pid, host, proc_start))
    db.commit()
    db.close()


def test_lock_of_a_dead_pid_is_cleared(tmp_path):
    open_store(tmp_path).close()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    pid = int(gone.stdout)
    insert_lock(tmp_path, pid, socket.gethostname(), None)
    with open_store(tmp_path) as store:
        lock = store.lock("dev", "up")
        assert f"pid {pid} on" in lock.cleared_stale


def test_lock_of_a_reused_pid_is_cleared(tmp_path):
    # Our own pid, recorded with another start time: the pid was reused.
    open_store(tmp_path).close()
    insert_lock(tmp_path, os.getpid(), socket.gethostname(), "1")
    with open_store(tmp_path) as store:
        if state_mod._proc_stat(os.getpid()) is None:
            pytest.skip("no /proc here to read start times from")
        lock = store.lock("dev", "up")
        assert f"pid {os.getpid()} on" in lock.cleared_stale


def test_lock_from_another_host_counts_as_live(tmp_path):
    open_store(tmp_path).close()
    insert_lock(tmp_path, 1, "elsewhere.example", None)
    with open_store(tmp_path) as store, \
            pytest.raises(StackLockedError) as info:
        store.lock("dev", "up")
    assert "pid 1 on elsewhere.example" in str(info.value)
    assert "another host" in str(info.value)


def test_two_processes_write_without_busy_errors(tmp_path):
    open_store(tmp_path).close()
    code = f"""
store = state.Store.open({str(tmp_path)!r})
print("ready", flush=True)
sys.stdin.readline()
for i in range(200):
    store.set_config("child", f"k{{i}}", "v", secret=False)
store.close()
print("done", flush=True)
"""
    child = run_child(code)
    try:
        assert child.stdout.readline() == "ready\n", child.stderr.read()
        child.stdin.write("go\n")
        child.stdin.flush()
        with open_store(tmp_path) as store:
            for i in range(200):
                store.set_config("parent", f"k{i}", "v", secret=False)
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
            assert out == "done\n"
            assert len(store.config("child")) == 200
            assert len(store.config("parent")) == 200
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate(timeout=60)
