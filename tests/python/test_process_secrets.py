"""outrun.process.run with Outputs as arguments, and secrets kept out of
its messages: a secret argument shows as [secret] when the command fails,
times out, is cancelled or is not found, and its plaintext appears in no
message (nor in the output tails).  Real subprocesses; nothing is timed."""

from __future__ import annotations

import os

import outrun
import pytest
from outrun import Output
from outrun import _secrets as secrets
from outrun.process import ProcessError, ProcessTimeoutError
from output_support import LOOPS, error_of, run

pytestmark = LOOPS

TOKEN = "tok-3f9a27c1d8e4"


@pytest.fixture(autouse=True)
def no_known_secrets():
    secrets.forget()
    yield
    secrets.forget()


def _flag(secret: Output[str]) -> Output[str]:
    return secret.apply(lambda t: f"--token={t}")


def test_outputs_as_argv_env_cwd_input(new_loop, tmp_path):
    async def main():
        r = outrun.process.run(
            ["sh", "-c", 'cat; echo "$1 $FOO"; pwd', "sh",
             Output.from_input("arg")],
            env={"FOO": Output.from_input("bar"),
                 "PATH": os.environ["PATH"]},
            cwd=Output.from_input(str(tmp_path)),
            input=Output.from_input("in\n"))
        assert isinstance(r, Output)
        res = await r.future()
        assert res.stdout.splitlines() == ["in", "arg bar", str(tmp_path)]
        assert res.args[-1] == "arg"
        assert await r.is_secret() is False
        # args and env as whole Outputs.
        res = await outrun.process.run(
            Output.from_input(["sh", "-c", "echo $FOO"]),
            env=Output.from_input({"FOO": "baz"})).future()
        assert res.stdout == "baz\n"

    run(new_loop, main)


def test_a_secret_argument_makes_the_result_secret(new_loop):
    async def main():
        r = outrun.process.run(["echo", _flag(Output.secret(TOKEN))])
        assert (await r.future()).stdout == f"--token={TOKEN}\n"
        assert await r.is_secret() is True

    run(new_loop, main)


def test_a_failure_shows_secret_arguments_as_secret(new_loop):
    async def main():
        # The command echoes its argument too: the tails are masked.
        exc = await error_of(outrun.process.run(
            ["sh", "-c", 'echo "out $1"; echo "err $1" >&2; exit 3', "sh",
             _flag(Output.secret(TOKEN))]))
        assert isinstance(exc, ProcessError)
        text = str(exc)
        assert "exit code 3" in text
        assert "sh -c" in text and "[secret]" in text
        assert TOKEN not in text
        assert "out [secret]" in text and "err [secret]" in text
        assert exc.result.returncode == 3

    run(new_loop, main)


def test_a_timeout_shows_secret_arguments_as_secret(new_loop):
    async def main():
        exc = await error_of(outrun.process.run(
            ["sh", "-c", 'echo "$1"; sleep 30', "sh",
             Output.secret(TOKEN)], timeout=0.3))
        assert isinstance(exc, ProcessTimeoutError)
        assert "timed out" in str(exc) and "[secret]" in str(exc)
        assert TOKEN not in str(exc)

    run(new_loop, main)


def test_not_found_shows_secret_arguments_as_secret(new_loop):
    async def main():
        exc = await error_of(outrun.process.run(
            ["no-such-program-xyz", _flag(Output.secret(TOKEN))]))
        assert isinstance(exc, FileNotFoundError)
        assert "no-such-program-xyz [secret]" in str(exc)
        assert TOKEN not in str(exc)
        # A secret program name is hidden too.
        exc = await error_of(outrun.process.run(
            [Output.secret("/no/such/" + TOKEN)]))
        assert isinstance(exc, FileNotFoundError)
        assert TOKEN not in str(exc) and "[secret]" in str(exc)
        assert exc.filename == "[secret]"

    run(new_loop, main)


def test_a_secret_shell_command_is_hidden(new_loop):
    async def main():
        exc = await error_of(outrun.process.run(
            Output.secret(f"test -n {TOKEN}; exit 4"), shell=True))
        assert isinstance(exc, ProcessError)
        assert "exit code 4" in str(exc) and TOKEN not in str(exc)

    run(new_loop, main)


def test_a_known_secret_passed_as_a_plain_value_is_masked(new_loop):
    """A config secret taken out with apply and passed as a plain string:
    the message masks it because the run knows it."""
    async def main():
        secrets.add(TOKEN)
        exc = await error_of(outrun.process.run(
            ["sh", "-c", "exit 5", "sh", f"--token={TOKEN}"]))
        assert "--token=[secret]" in str(exc) and TOKEN not in str(exc)
        exc = await error_of(outrun.process.run(
            ["sh", "-c", "sleep 30", "sh", TOKEN], timeout=0.3))
        assert TOKEN not in str(exc) and "[secret]" in str(exc)
        exc = await error_of(outrun.process.run(
            ["no-such-program-xyz", TOKEN]))
        assert TOKEN not in str(exc) and "[secret]" in str(exc)

    run(new_loop, main)


def test_cancel_before_the_arguments_are_known(new_loop):
    async def main():
        arg, resolve = outrun.deferred_output()
        o = outrun.process.run(["echo", arg])
        assert outrun.process.cancel(o) is True
        assert outrun.process.cancel(o) is False
        resolve("x")
        exc = await error_of(o)
        assert isinstance(exc, ProcessError)
        assert "cancelled before it started" in str(exc)

    run(new_loop, main)


def test_a_rejected_argument_rejects_the_run(new_loop):
    async def main():
        def boom(_):
            raise ValueError("no such value")

        exc = await error_of(outrun.process.run(
            ["echo", Output.from_input(1).apply(boom)]))
        assert isinstance(exc, ValueError)

    run(new_loop, main)


def test_type_errors_are_still_raised_at_once(new_loop):
    async def main():
        with pytest.raises(TypeError):
            outrun.process.run(["ls"], shell=True)
        with pytest.raises(TypeError):
            outrun.process.run("ls")

    run(new_loop, main)


def test_no_secret_means_no_change(new_loop):
    async def main():
        exc = await error_of(outrun.process.run(["sh", "-c", "exit 2"]))
        assert "sh -c exit 2" in str(exc)

    run(new_loop, main)
