"""outrun._secrets: the plaintext of known secrets masked out of
what the run prints (the display in its three modes, outrun.log, the
standard streams during a run); short common strings never masked."""

from __future__ import annotations

import io
import json
import sys
from types import SimpleNamespace

import pytest
from outrun import _secrets as secrets
from outrun._engine.display import make_display

TOKEN = "tok-3f9a27c1d8e4"


@pytest.fixture(autouse=True)
def no_known_secrets():
    secrets.forget()
    yield
    secrets.forget()


@pytest.fixture(params=["regex", "scan"])
def many(request, monkeypatch):
    """Both ways of matching: the regular expression (few secrets) and
    the scan (more than REGEX_MAX forms)."""
    if request.param == "scan":
        monkeypatch.setattr(secrets, "REGEX_MAX", 0)
    return request.param


def test_masks_every_known_secret_and_nothing_else(many):
    assert secrets.mask(f"x {TOKEN} y") == f"x {TOKEN} y"
    secrets.add(TOKEN)
    assert secrets.mask(f"a {TOKEN} b {TOKEN}") == "a [secret] b [secret]"
    assert secrets.mask("nothing here") == "nothing here"
    # Structures are masked leaf by leaf; numbers by their text.
    secrets.add({"user": "dbadmin-7", "ids": [98765, "k3y-k3y"]})
    assert secrets.mask("dbadmin-7 98765 k3y-k3y") == (
        "[secret] [secret] [secret]")


def test_the_longest_secret_wins_and_overlaps_merge(many):
    secrets.add("abcd")
    secrets.add("abcdefgh")
    assert secrets.mask("xabcdefghx abcdx") == "x[secret]x [secret]x"
    if many == "scan":
        secrets.add("efghijkl")
        assert secrets.mask("abcdefghijkl!") == "[secret]!"


def test_short_and_common_strings_are_never_masked(many):
    for value in ("", "a", "dev", "200", True, False, None, 0.5, 123,
                  "true", "False", "TRUE"):
        secrets.add(value)
    assert secrets.known() == 0
    text = "dev 200 true False 0.5 123 a"
    assert secrets.mask(text) == text
    secrets.add("four")
    assert secrets.mask("four dev") == "[secret] dev"


def test_escaped_forms_are_masked(many):
    secret = 'he said "hi" \\ ok'
    secrets.add(secret)
    assert TOKEN not in secrets.mask(json.dumps({"m": secret}))
    assert json.loads(secrets.mask(json.dumps({"m": secret}))) == {
        "m": "[secret]"}
    assert secrets.mask(repr(ValueError(secret))) == "ValueError('[secret]')"
    # Non-ASCII, as orjson writes it and as ensure_ascii would.
    secrets.add("pässwörd-ü")
    assert secrets.mask(json.dumps("pässwörd-ü")) == '"[secret]"'
    assert secrets.mask(json.dumps("pässwörd-ü",
                                   ensure_ascii=False)) == '"[secret]"'


def _step(error=None):
    return SimpleNamespace(urn="urn:outrun:dev::p::t::s1", type="t",
                           name="s1", op="create", ok=error is None,
                           error=error, started=0.0, elapsed=0.5,
                           detail=None)


def _summary(failures):
    return SimpleNamespace(kind="up", stack="dev", project="p",
                           result="failed", counts={"create": 1},
                           duration=1.0, outputs={"url": f"x{TOKEN}"},
                           failures=failures, skipped=0,
                           warnings=[f"w {TOKEN}"])


@pytest.mark.parametrize("mode", ["plain", "json", "live"])
def test_every_display_masks_what_it_writes(mode, many):
    secrets.add(TOKEN)
    out = io.StringIO()
    disp = make_display("up", "dev", "p", json_mode=mode == "json",
                        stream=out, color=False, live=mode == "live")
    disp.start()
    step = _step(f"provider said: bad token {TOKEN}")
    disp.step_started(step)
    disp.step_finished(step)
    disp.step_skipped(_step(), f"because {TOKEN}")
    disp.diag("warning", f"the token {TOKEN} expires", step.urn)
    disp.diag("error", f"again {TOKEN}")
    disp.finish(_summary([(step.urn, f"failed with {TOKEN}")]))
    disp.close()
    text = out.getvalue()
    assert TOKEN not in text
    assert text.count("[secret]") >= 5
    if mode == "json":
        events = [json.loads(line) for line in text.splitlines()]
        assert events[-1]["event"] == "summary"
        assert events[-1]["failures"][0]["message"] == "failed with [secret]"


def test_the_live_view_never_shows_part_of_a_secret():
    """A row is clipped to the terminal's width: masking comes first, so
    no clipped piece of a secret shows."""
    secrets.add(TOKEN)
    disp = make_display("up", "dev", "p", stream=io.StringIO(), color=False,
                        live=True)
    step = _step("x" * 40 + TOKEN)
    disp.step_started(step)
    disp.step_finished(step)
    for width in range(20, 120):
        for row in disp.render(width, 10):
            assert TOKEN[:6] not in row, (width, row)


def test_masked_streams_cover_stdout_and_stderr(capsys):
    secrets.add(TOKEN)
    with secrets.masked_streams():
        print(f"out {TOKEN}")
        print(f"err {TOKEN}", file=sys.stderr)
        sys.stderr.flush()
    print(f"after {TOKEN}")
    out, err = capsys.readouterr()
    assert out == f"out [secret]\nafter {TOKEN}\n"
    assert err == "err [secret]\n"


def test_log_outside_a_run_is_masked(capsys):
    from outrun import log

    secrets.add(TOKEN)
    log.warn(f"careful with {TOKEN}")
    log.error(f"lost {TOKEN}")
    err = capsys.readouterr().err
    assert TOKEN not in err and err.count("[secret]") == 2
