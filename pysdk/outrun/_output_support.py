"""The parts of Output written in Python: json_dumps and json_loads, built
on apply.  The C type calls these with the Output class first."""

from __future__ import annotations

import json
from typing import Any


def json_dumps(Output: Any, obj: Any, **kwargs: Any) -> Any:
    """Output.json_dumps(obj, **json_kwargs)."""
    base_cls = kwargs.pop("cls", None) or json.JSONEncoder
    # A default= of the user's runs inside the encoder below, so that what
    # it returns may be an Output too.
    user_default = kwargs.pop("default", None)

    def dump(value: Any) -> Any:
        secret = False
        known = True
        deps: set[Any] = set()

        class Encoder(base_cls):  # type: ignore[misc, valid-type]
            def default(self, o: Any) -> Any:
                nonlocal secret, known
                if isinstance(o, Output):
                    r = o
                elif user_default is not None:
                    r = user_default(o)
                else:
                    r = super().default(o)
                if not isinstance(r, Output):
                    return r
                state, v, k, s, d = r._peek()
                if state == "pending":
                    raise TypeError(
                        "Output.json_dumps() met a pending Output inside a "
                        "custom object; pass the object through "
                        "Output.from_input() or apply() first so that the "
                        "Output is waited for")
                if state == "rejected":
                    raise v
                secret = secret or s
                known = known and k
                deps.update(d)
                return v

        text = json.dumps(value, cls=Encoder, **kwargs)
        if not known:
            return Output._resolved(None, known=False, secret=secret,
                                    deps=deps)
        if secret or deps:
            return Output._resolved(text, secret=secret, deps=deps)
        return text

    return Output.from_input(obj).apply(dump)


def json_loads(Output: Any, s: Any, **kwargs: Any) -> Any:
    """Output.json_loads(s, **json_kwargs)."""
    return Output.from_input(s).apply(lambda text: json.loads(text, **kwargs))
