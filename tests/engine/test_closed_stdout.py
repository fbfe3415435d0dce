"""A standard output that cannot be written (issue 11, item 1): a pipe
whose reader left (`outrun up | head -1`), or a file past the file size
limit (`ulimit -f`).  The display must never stop the engine: the run
stops as after a first Ctrl-C (steps in flight finish and are saved), the
lock is released, and the process exits with no traceback: 141 after a
closed pipe (what a shell shows for SIGPIPE), 1 after any other error."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys

import pytest
from conftest import DEADLINE, Project, explain

THINGS = 10

PROGRAM = f"""
from worldprov import Thing

for i in range({THINGS}):
    Thing(f"t{{i}}", i, sleep=1.0)
"""


def _state_count(project: Project) -> int:
    proc = project.ok("stack ls", "--json")
    stacks = json.loads(proc.stdout)
    return sum(s["resources"] for s in stacks)


def _converges(project: Project) -> None:
    """The state holds exactly what the first run created, and a second
    up takes the lock and finishes the work without creating anything
    twice (a create the state had lost would log "create-again")."""
    created = project.things()
    assert _state_count(project) == len(created), created
    project.clear_ops()
    proc = project.ok("up", "--parallel", "8")
    assert "Traceback" not in proc.stderr, explain(proc)
    assert project.ops_done("create-again") == [], project.ops()
    assert len(project.things()) == THINGS


def _read_one_line_then_close(project: Project, *args: str,
                              command: str = "up"
                              ) -> tuple[int, str, str]:
    """outrun COMMAND ARGS | a reader that reads one line and exits."""
    writer = subprocess.Popen(
        project.argv(command, *args), cwd=project.dir, env=project.env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    project.started.append(writer)  # killed at the end if still alive
    reader = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; sys.stdout.write(sys.stdin.readline())"],
        stdin=writer.stdout, stdout=subprocess.PIPE)
    assert writer.stdout is not None
    writer.stdout.close()   # only the reader holds the pipe's read end
    first, _ = reader.communicate(timeout=DEADLINE)
    try:
        _, err = writer.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        writer.kill()
        _, err = writer.communicate()
        pytest.fail(f"{command} {args} did not end after its reader left "
                    f"(stderr {err[-2000:]!r})")
    return writer.returncode, first.decode(), err.decode()


@pytest.mark.parametrize("json_mode", [False, True], ids=["plain", "json"])
def test_up_into_a_pipe_whose_reader_left(project: Project,
                                          json_mode: bool) -> None:
    project.write(PROGRAM)
    args = ["--parallel", "2"] + (["--json"] if json_mode else [])
    code, first, err = _read_one_line_then_close(project, *args)
    assert first.strip(), "the reader got no line"
    assert code == 141, err
    assert "Traceback" not in err, err
    assert "standard output was closed" in err, err
    # It stopped: not every Thing was made (each takes a second, two at a
    # time; the run stops at the first write after the reader left).
    assert len(project.things()) < THINGS, project.ops()
    _converges(project)


def test_preview_into_a_pipe_whose_reader_left(project: Project) -> None:
    # More lines than a pipe holds (64 KiB on Linux), so that the preview
    # still writes after its reader left.
    project.write("from worldprov import Thing\n"
                  "for i in range(2000):\n"
                  "    Thing(f'a-thing-with-a-long-name-{i:06d}', i)\n")
    code, first, err = _read_one_line_then_close(project, command="preview")
    assert first.startswith("Previewing"), (first, code, err)
    assert code == 141, err
    assert "Traceback" not in err, err


def test_stack_output_into_a_closed_pipe(project: Project) -> None:
    project.write("import outrun\noutrun.export('x', 'y' * 100000)\n")
    project.ok("up")
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run(
            project.argv("stack output"), cwd=project.dir, env=project.env,
            stdin=subprocess.DEVNULL, stdout=w, stderr=subprocess.PIPE,
            text=True, timeout=DEADLINE, check=False)
    finally:
        os.close(w)
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


LIMIT = 8 * 1024 * 1024


def _file_size_limit() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))
    # As a shell leaves it: SIGXFSZ at its default, which kills, unless
    # the process ignores it (python3 and the host do).
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)


@pytest.mark.parametrize("json_mode", [False, True], ids=["plain", "json"])
def test_up_past_the_file_size_limit(project: Project, tmp_path: os.PathLike,
                                     json_mode: bool) -> None:
    project.write(PROGRAM)
    out = os.path.join(tmp_path, "out.txt")
    # Standard output starts a few bytes short of the limit; the state,
    # a fresh small file, stays far below it.
    with open(out, "wb") as f:
        f.truncate(LIMIT - 20)
    args = ["--parallel", "2"] + (["--json"] if json_mode else [])
    with open(out, "ab") as f:
        try:
            proc = subprocess.run(
                project.argv("up", *args), cwd=project.dir, env=project.env,
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.PIPE,
                text=True, timeout=DEADLINE, check=False,
                preexec_fn=_file_size_limit)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"up did not end past the file size limit "
                        f"(stderr {(exc.stderr or b'')[-2000:]!r})")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "cannot write to standard output" in proc.stderr, proc.stderr
    assert len(project.things()) < THINGS, project.ops()
    _converges(project)
