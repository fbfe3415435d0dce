"""Stack outputs: the program's exports, resolved at the end of the run,
turned into the plain values the state stores, and refused (a named
failure, never a stored repr) when they cannot be saved.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from _outrun import UNKNOWN, Output

from outrun._engine.state import _encode
from outrun.resource import (
    Resource,
    output_value_message,
    output_value_problem,
)

_TOO_DEEP = ("it is nested too deeply (lists or dicts inside each other "
             "hundreds of levels down); export a flatter value")


async def resolve(exports: Mapping[str, Any],
                  failures: list[tuple[str, str]]
                  ) -> tuple[dict[str, Any], frozenset[str], dict[str, Any]]:
    """(the values to store, which of them are secret, the values to show:
    secrets as '[secret]', unknowns as '[unknown]').  An export that
    cannot be saved is left out, with a failure."""
    shown: dict[str, Any] = {}
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for name, value in exports.items():
        try:
            out = Output.from_input(value)
            await out.future(with_unknowns=True)
            state, value2, known, is_secret, _ = out._peek()
            problem = output_value_problem(value2)
            if problem is not None:
                # Refused, not stored as its repr (issue 11, item 12).
                failures.append((
                    f"output {name}",
                    output_value_message(name, problem)))
                continue
            v = _plain(value2)
            why = _unsavable(v)
        except RecursionError:
            why = _TOO_DEEP
        except Exception as exc:  # noqa: BLE001
            failures.append((f"output {name}", str(exc)))
            continue
        if why is not None:
            failures.append((
                f"output {name}", f"the stack output '{name}' cannot "
                f"be saved: {why}; it was left out of the stack's "
                "outputs"))
            continue
        if is_secret:
            secret.add(name)
            shown[name] = "[secret]"
        elif not known:
            shown[name] = "[unknown]"
        else:
            shown[name] = v
        values[name] = v
    return values, frozenset(secret), shown


def _unsavable(value: Any) -> str | None:
    """Why a stack output (as _plain made it) cannot be stored, or None:
    the state's own JSON encoding, and UTF-8 (SQLite's text)."""
    try:
        _encode(value).encode("utf-8")
    except RecursionError:
        return _TOO_DEEP
    except UnicodeEncodeError as exc:
        return (f"it holds a string that is not valid text (a lone "
                f"surrogate, {exc.object[exc.start:exc.end]!a}); export "
                "text that encodes as UTF-8")
    except (TypeError, ValueError) as exc:
        if "integer string conversion" in str(exc):
            return ("it holds an integer too long to save (more than "
                    f"{sys.get_int_max_str_digits()} digits); export it "
                    "as a string, str(n)")
        return f"{exc}; stack outputs must be JSON values"
    return None


def _plain(value: Any) -> Any:
    """A stack output as stored: Resources become their public attributes'
    names, sets lists, unknown None."""
    if value is UNKNOWN:
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, Resource):
        return value._step.urn
    return repr(value)
