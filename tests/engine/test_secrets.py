"""Secrets in messages: the plaintext of every secret the run knows (config
secrets, secret Outputs the engine or process.run sees, secret resource
inputs and outputs) never shows on stdout, on stderr or in the --json
events, whether a process that got it fails, times out or is not found,
or a provider's failure message holds it; [secret] shows instead.  A
short secret never masks a common string."""

from __future__ import annotations

import json

import pytest
from conftest import Project, explain

TOKEN = "cfg-tok-5b1e97d0a2"      # a config secret
LITERAL = "lit-key-8c44f0e61b"    # an Output.secret in the program

PROCESS = """
    import outrun
    from outrun import Output, process

    cfg = outrun.Config()
    token = cfg.require_secret("token")
    literal = Output.secret("{literal}")
    # A config secret taken out with apply and passed as a plain string.
    token.apply(lambda t: process.run({cmd} + [f"--token={{t}}"], {kw}))
    # An Output.secret through apply, passed to process.run as an Output.
    process.run({cmd} + [literal.apply(lambda k: f"--key={{k}}")], {kw})
"""

CASES = {
    # The command prints its argument too: the output tails are masked.
    "exit": (["sh", "-c", 'echo "seen $1"; echo "err $1" >&2; exit 3', "sh"],
             "", "exit code 3"),
    "timeout": (["sh", "-c", 'echo "seen $1"; exec sleep 30', "sh"],
                "timeout=0.5", "timed out"),
    "not-found": (["no-such-program-xyz"], "", "No such file"),
}


def _check(project: Project, command: str, *args: str, expect: str,
           stderr: bool = True) -> tuple[str, str]:
    """Runs the command (exit 1): no secret anywhere; expect and [secret]
    on stdout, and on stderr too (the program's traceback) unless not
    stderr."""
    proc = project.run(command, *args)
    assert proc.returncode == 1, explain(proc)
    for secret in (TOKEN, LITERAL):
        assert secret not in proc.stdout, explain(proc)
        assert secret not in proc.stderr, explain(proc)
    streams = [proc.stdout, proc.stderr] if stderr else [proc.stdout]
    for text in streams:
        assert expect in text and "[secret]" in text, explain(proc)
    return proc.stdout, proc.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_secret_given_to_a_failing_process_never_shows(
        project: Project, case: str) -> None:
    cmd, kw, expect = CASES[case]
    project.write(PROCESS.format(literal=LITERAL, cmd=json.dumps(cmd),
                                 kw=kw))
    project.ok("config set", "--secret", "token", TOKEN)
    out, err = _check(project, "up", expect=expect)
    assert "--token=[secret]" in err, err
    # The Output argument is [secret] as a whole.
    assert "[secret]" in out
    if case == "exit":
        assert "seen [secret]" in err and "err [secret]" in err, err
    out, err = _check(project, "up", "--json", expect=expect)
    events = [json.loads(line) for line in out.splitlines()]
    summary = events[-1]
    assert summary["event"] == "summary"
    messages = [f["message"] for f in summary["failures"]]
    assert len(messages) == 2, summary
    assert all("[secret]" in m for m in messages), messages
    assert any("--token=[secret]" in m for m in messages), messages
    _check(project, "preview", expect=expect)


PROVIDER = """
    import outrun
    from outrun import Output
    from worldprov import Thing

    cfg = outrun.Config()
    literal = Output.secret("{literal}")
    token = cfg.require_secret("token")
    # Secret inputs; the messages that hold them are not secret Outputs.
    Thing("a", literal, fail=Output.unsecret(
        literal.apply(lambda k: f"refused key {{k}}")))
    Thing("b", token, fail=Output.unsecret(
        token.apply(lambda t: f"refused token {{t}}")))
    # A secret read with the plain getter: the value is not secret, but
    # the run knows it from the config.
    Thing("c", 3, fail="bad config " + cfg.require("token"))
    outrun.log.warn("the token is " + cfg.require("token"))
"""


def test_provider_failure_messages_are_masked(project: Project) -> None:
    project.write(PROVIDER.format(literal=LITERAL))
    project.ok("config set", "--secret", "token", TOKEN)
    out, _ = _check(project, "up", expect="refused", stderr=False)
    assert "refused key [secret]" in out
    assert "refused token [secret]" in out
    assert "bad config [secret]" in out
    assert "the token is [secret]" in out
    out, _ = _check(project, "up", "--json", expect="refused",
                    stderr=False)
    events = [json.loads(line) for line in out.splitlines()]
    failed = {e["name"]: e["error"] for e in events
              if e["event"] == "step" and e["status"] == "failed"}
    assert failed == {"a": "RuntimeError: refused key [secret]",
                      "b": "RuntimeError: refused token [secret]",
                      "c": "RuntimeError: bad config [secret]"}, failed


SHORT = """
    import outrun
    from worldprov import Thing

    cfg = outrun.Config()
    Thing("t", cfg.require_secret("short"))
    outrun.export("out", "dev and 1 and true")
"""


def test_a_short_secret_masks_nothing(project: Project) -> None:
    """Secrets shorter than 4 characters (and true/false) are not masked:
    "dev" would garble the stack's own name everywhere."""
    project.write(SHORT)
    project.ok("config set", "--secret", "short", "dev")
    proc = project.ok("up")
    assert "stack dev" in proc.stdout, explain(proc)
    assert '"dev and 1 and true"' in proc.stdout, explain(proc)
