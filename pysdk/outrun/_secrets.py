"""The plaintext of every secret known to the run, and masking it out of
what the run prints.

As Pulumi does, every secret the run comes to know is replaced by
``[secret]`` in everything the run shows: the display (plain, live and
``--json``), the summary, ``outrun.log`` messages, and whatever is written
to standard output and standard error while a run goes on (tracebacks
included).  Secrets become known here when

- the state opens or seals one (secret config values, secret resource
  inputs and outputs, secret stack outputs: ``state.py``),
- the engine reads a secret input of a resource (``_engine/``),
- ``outrun.process.run`` is given a secret Output (``process.py``).

A value that was never marked secret, or that the program takes out of a
secret Output with ``apply`` and hands on as a plain value, is not known
here unless one of the above saw it too: pass the Output itself.

Which values are masked: strings of at least ``MIN_LENGTH`` characters
and the text of numbers that long; never booleans or None, and never
"true" / "false".  Shorter secrets are not masked: strings of 1 to 3
characters ("dev", "yes", "200", "0.5") occur everywhere in a run's output
(stack names, exit codes, counts, durations), so masking them would garble
every message while protecting nothing (a secret that short shows through
its context anyway).  Pulumi draws the same line, at 3.  A secret
structure (a dict or a list) is masked leaf by leaf.  Each secret is
masked as written and in its JSON and repr escaped forms, so a secret with
quotes or backslashes is caught inside a JSON line or a traceback too.

Matching costs nothing while no secret is known.  With a few secrets (up
to ``REGEX_MAX`` forms, the usual case) one regular expression of them all,
longest first, masks a line in a couple of microseconds; it is compiled
again on the first mask() after a secret is added.  With more, a text is
scanned once instead: every position whose next ``MIN_LENGTH`` characters
start a known secret is a candidate, the longest secret that matches there
wins, and overlapping matches merge into one ``[secret]``; adding a secret
then costs O(1), so a state with thousands of secret values never waits
for a regular expression of thousands of alternatives to compile (nor to
search: sre tries each alternative at every position).
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["MIN_LENGTH", "REPLACEMENT", "add", "forget", "known",
           "mask", "mask_fields", "masked_streams"]

#: Secrets shorter than this are not masked (see the module docstring).
MIN_LENGTH = 4
REPLACEMENT = "[secret]"
#: Up to this many known forms, one regular expression masks them.
REGEX_MAX = 96

_NEVER = frozenset(("true", "false"))

# Every form of every secret, and the forms by their first MIN_LENGTH
# characters, each list longest first.
_forms: set[str] = set()
_by_prefix: dict[str, list[str]] = {}
# The regular expression of every form while there are at most REGEX_MAX,
# None until the next mask() compiles it.
_regex: re.Pattern[str] | None = None


def known() -> int:
    """How many masked forms are known (for tests)."""
    return len(_forms)


def forget() -> None:
    """Forgets every secret (for tests that run several commands in one
    process)."""
    global _regex
    _forms.clear()
    _by_prefix.clear()
    _regex = None


def _add_form(text: str) -> None:
    global _regex
    if len(text) < MIN_LENGTH or text in _forms:
        return
    _forms.add(text)
    _regex = None
    bucket = _by_prefix.setdefault(text[:MIN_LENGTH], [])
    bucket.append(text)
    bucket.sort(key=len, reverse=True)


def _add_text(text: str) -> None:
    if len(text) < MIN_LENGTH or text.lower() in _NEVER:
        return
    _add_form(text)
    # As it appears inside a JSON string and inside a repr() (tracebacks
    # show exception arguments with repr).
    _add_form(json.dumps(text, ensure_ascii=False)[1:-1])
    _add_form(json.dumps(text)[1:-1])
    _add_form(repr(text)[1:-1])


def add(value: Any) -> None:
    """Makes value's plaintext known: a str, bytes (as UTF-8), a number's
    text, or each of these inside a dict (its values) or a list."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            _add_text(v)
        elif isinstance(v, bool) or v is None:
            continue
        elif isinstance(v, (int, float)):
            _add_text(str(v))
        elif isinstance(v, (bytes, bytearray, memoryview)):
            try:
                _add_text(bytes(v).decode())
            except UnicodeDecodeError:
                continue
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple, set, frozenset)):
            stack.extend(v)


def mask(text: str) -> str:
    """text with every known secret replaced by ``[secret]``."""
    global _regex
    index = _by_prefix
    if not index or not isinstance(text, str):
        return text
    if len(_forms) <= REGEX_MAX:
        if _regex is None:
            _regex = re.compile("|".join(
                re.escape(f) for f in sorted(_forms, key=len, reverse=True)))
        return _regex.sub(REPLACEMENT, text)
    n = MIN_LENGTH
    starts = [i for i in range(len(text) - n + 1) if text[i:i + n] in index]
    if not starts:
        return text
    spans: list[list[int]] = []
    for i in starts:
        for form in index[text[i:i + n]]:
            if text.startswith(form, i):
                end = i + len(form)
                if spans and i <= spans[-1][1]:
                    # Overlaps (or touches) the last match: one [secret].
                    if end > spans[-1][1]:
                        spans[-1][1] = end
                else:
                    spans.append([i, end])
                break
    if not spans:
        return text
    out = []
    pos = 0
    for start, end in spans:
        out.append(text[pos:start])
        out.append(REPLACEMENT)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def mask_fields(value: Any) -> Any:
    """value with known secrets masked in every string inside it (dict
    values and list items; dict keys are left as they are, so a JSON
    event keeps its shape)."""
    if not _by_prefix:
        return value
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: mask_fields(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_fields(v) for v in value]
    return value


def masking(write: Any) -> Any:
    """A write(text) that masks text, then calls write."""
    def masked_write(text: str) -> Any:
        if _by_prefix:
            text = mask(text)
        return write(text)

    return masked_write


class _MaskedStream:
    """A text stream that masks what is written to it; everything else is
    the wrapped stream's."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if _by_prefix:
            text = mask(text)
        return self._stream.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def masked_streams() -> Iterator[None]:
    """For the length of a run: sys.stdout and sys.stderr mask what is
    written to them (the program's prints, tracebacks, the engine's
    messages).  A stream replaced meanwhile by someone else is left as it
    is."""
    out, err = sys.stdout, sys.stderr
    wrapped_out = _MaskedStream(out) if out is not None else None
    wrapped_err = _MaskedStream(err) if err is not None else None
    if wrapped_out is not None:
        sys.stdout = wrapped_out
    if wrapped_err is not None:
        sys.stderr = wrapped_err
    try:
        yield
    finally:
        if wrapped_out is not None and sys.stdout is wrapped_out:
            sys.stdout = out
        if wrapped_err is not None and sys.stderr is wrapped_err:
            sys.stderr = err
