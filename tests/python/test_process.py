"""outrun.process.run: real subprocesses on the native pool, results as
Outputs.  Tests count lines and compare values; they never time."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import outrun
import pytest
from outrun import Output
from outrun.process import ProcessError, ProcessResult, ProcessTimeoutError
from output_support import LOOPS, error_of, run

pytestmark = LOOPS


def test_runs_a_command_and_returns_a_result(new_loop):
    async def main():
        o = outrun.process.run(["echo", "hello"])
        assert isinstance(o, Output)
        r = await o.future()
        assert isinstance(r, ProcessResult)
        assert (r.args, r.returncode, r.signal) == (["echo", "hello"], 0, None)
        assert (r.stdout, r.stderr) == ("hello\n", "")
        assert r.duration >= 0

    run(new_loop, main)


def test_shell_stdin_env_cwd(new_loop, tmp_path):
    async def main():
        r = await outrun.process.run(
            "cat; echo $FOO; pwd", shell=True, input="in\n",
            env={"FOO": "bar", "PATH": os.environ["PATH"]},
            cwd=tmp_path).future()
        assert r.stdout.splitlines() == ["in", "bar", str(tmp_path)]
        # Without input, stdin is closed: cat ends at once.
        r = await outrun.process.run(["cat"]).future()
        assert r.stdout == ""

    run(new_loop, main)


def test_bytes_when_text_is_false(new_loop):
    async def main():
        r = await outrun.process.run(["printf", "\\377"], text=False).future()
        assert r.stdout == b"\xff"

    run(new_loop, main)


def test_a_failure_says_the_code_and_the_last_lines(new_loop):
    async def main():
        exc = await error_of(outrun.process.run(
            "for i in $(seq 1 30); do echo out$i; echo err$i >&2; done; "
            "exit 3", shell=True))
        assert isinstance(exc, ProcessError)
        text = str(exc)
        assert "exit code 3" in text
        assert "out30" in text and "err30" in text
        assert "out1\n" not in text  # only the tail
        assert exc.result.returncode == 3
        # check=False: the result, not an error.
        r = await outrun.process.run(["sh", "-c", "exit 4"],
                                     check=False).future()
        assert r.returncode == 4

    run(new_loop, main)


def test_killed_by_a_signal(new_loop):
    async def main():
        exc = await error_of(outrun.process.run(["sh", "-c", "kill -TERM $$"]))
        assert "signal 15" in str(exc)
        assert exc.result.signal == signal.SIGTERM
        assert exc.result.returncode is None

    run(new_loop, main)


def test_timeout_kills_the_group_and_says_so(new_loop):
    async def main():
        # Waits on the Output itself: the timeout takes real time, more
        # loop turns than error_of() allows.
        with pytest.raises(ProcessTimeoutError) as info:
            await outrun.process.run(["sleep", "60"], timeout=0.2).future()
        exc = info.value
        assert isinstance(exc, TimeoutError)
        assert "timed out after 0.2 s" in str(exc)

    run(new_loop, main)


def test_a_missing_executable_is_file_not_found(new_loop):
    async def main():
        exc = await error_of(outrun.process.run(["no-such-program-xyz"]))
        assert isinstance(exc, FileNotFoundError)
        assert "no-such-program-xyz" in str(exc)

    run(new_loop, main)


def test_on_output_gets_lines_on_the_loop_thread_in_order(new_loop):
    async def main():
        import threading

        loop_thread = threading.get_ident()
        seen = []

        def on_output(stream, line):
            assert threading.get_ident() == loop_thread
            seen.append((stream, line))

        r = await outrun.process.run(
            "echo a; echo b >&2; printf c", shell=True,
            on_output=on_output).future()
        assert [x for x in seen if x[0] == "stdout"] == [("stdout", "a"),
                                                         ("stdout", "c")]
        assert ("stderr", "b") in seen
        assert r.stdout == "a\nc"

    run(new_loop, main)


def test_cancel_kills_a_running_process(new_loop):
    async def main():
        o = outrun.process.run(["sh", "-c", "echo started; sleep 60"],
                               on_output=lambda s, line: started.set())
        started = asyncio.Event()
        await started.wait()
        assert outrun.process.cancel(o) is True
        exc = await error_of(o)
        assert isinstance(exc, ProcessError)
        assert "cancelled" in str(exc)
        assert outrun.process.cancel(o) is False

    run(new_loop, main)


def test_many_processes_at_once(new_loop):
    async def main():
        outs = [outrun.process.run([sys.executable, "-c", f"print({i})"])
                for i in range(40)]
        results = await asyncio.gather(*[o.future() for o in outs])
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(40)]

    run(new_loop, main)


def test_bad_arguments_are_clear(new_loop):
    async def main():
        with pytest.raises(TypeError, match="shell=True"):
            outrun.process.run("ls -l")
        with pytest.raises(ValueError, match="empty"):
            outrun.process.run([])
        with pytest.raises(ValueError, match="timeout"):
            outrun.process.run(["true"], timeout=0)

    run(new_loop, main)
