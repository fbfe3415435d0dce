"""Output.json_dumps and Output.json_loads."""

from __future__ import annotations

import json

from output_support import (
    LOOPS,
    error_of,
    later,
    made,
    run,
    settled,
)
from outrun import Output

pytestmark = LOOPS


class Point:
    """A custom object json cannot encode without help."""

    def __init__(self, x):
        self.x = x


def test_dumps_waits_for_outputs_inside(new_loop):
    async def main():
        obj = {"a": made(1, deps=["r"]), "b": [later("two"), made(None)],
               "c": made({"d": True}, secret=True)}
        o = Output.json_dumps(obj)
        value, known, secret, deps = await settled(o)
        assert json.loads(value) == {"a": 1, "b": ["two", None],
                                     "c": {"d": True}}
        assert value == json.dumps({"a": 1, "b": ["two", None],
                                    "c": {"d": True}})
        assert (known, secret, deps) == (True, True, {"r"})

    run(new_loop, main)


def test_dumps_passes_the_keyword_arguments(new_loop):
    async def main():
        obj = {"b": made(1), "a": [1, 2]}
        kw = {"sort_keys": True, "indent": 2, "separators": (",", ": ")}
        o = Output.json_dumps(obj, **kw)
        assert (await settled(o))[0] == json.dumps({"b": 1, "a": [1, 2]},
                                                   **kw)

    run(new_loop, main)


def test_dumps_of_an_unknown_input_is_unknown_with_value_none(new_loop):
    async def main():
        o = Output.json_dumps({"a": made(None, known=False, deps=["u"]),
                               "b": made(1, secret=True)})
        assert await settled(o) == (None, False, True, {"u"})

    run(new_loop, main)


def test_dumps_uses_a_resolved_output_that_default_returns(new_loop):
    async def main():
        o = Output.json_dumps({"p": Point(made(5))},
                              default=lambda p: p.x)
        assert json.loads((await settled(o))[0]) == {"p": 5}

    run(new_loop, main)


def test_dumps_of_a_pending_output_from_default_says_use_from_input(
        new_loop):
    async def main():
        pending = Output._pending()
        try:
            o = Output.json_dumps({"p": Point(pending)},
                                  default=lambda p: p.x)
        except Exception as exc:  # noqa: BLE001 - either way is fine
            err = exc
        else:
            err = await error_of(o)
        assert "from_input" in str(err), err
        pending._resolve(None)

    run(new_loop, main)


def test_dumps_of_what_json_cannot_encode_rejects(new_loop):
    async def main():
        err = await error_of(Output.json_dumps({"p": Point(1)}))
        assert type(err) is TypeError

    run(new_loop, main)


def test_loads_parses_the_value(new_loop):
    async def main():
        s = made('{"a": [1, 2.5, null]}', secret=True, deps=["r"])
        o = Output.json_loads(s)
        assert await settled(o) == ({"a": [1, 2.5, None]}, True, True, {"r"})
        plain = Output.json_loads("[true]")
        assert (await settled(plain))[0] == [True]
        awaited = Output.json_loads(later('"x"'))
        assert (await settled(awaited))[0] == "x"

    run(new_loop, main)


def test_loads_passes_the_keyword_arguments(new_loop):
    async def main():
        o = Output.json_loads(made('{"n": 1, "f": 2.5}'), parse_int=str,
                              parse_float=lambda s: "float:" + s)
        assert (await settled(o))[0] == {"n": "1", "f": "float:2.5"}

    run(new_loop, main)


def test_loads_of_bad_json_rejects(new_loop):
    async def main():
        err = await error_of(Output.json_loads(made("{not json")))
        assert isinstance(err, json.JSONDecodeError)

    run(new_loop, main)


def test_loads_of_an_unknown_input_is_unknown(new_loop):
    async def main():
        o = Output.json_loads(made(None, known=False, deps=["u"]))
        _, known, _, deps = await settled(o)
        assert (known, deps) == (False, {"u"})

    run(new_loop, main)


def test_round_trip(new_loop):
    async def main():
        obj = {"list": [1, made("x")], "n": None}
        back = Output.json_loads(Output.json_dumps(obj))
        assert (await settled(back))[0] == {"list": [1, "x"], "n": None}

    run(new_loop, main)
