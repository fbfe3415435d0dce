"""Output.all, Output.concat and Output.format."""

from __future__ import annotations

import asyncio

import pytest
from output_support import (
    LOOPS,
    error_of,
    facts,
    failed,
    later,
    made,
    run,
    settle,
    settled,
    state,
)
from outrun import UNKNOWN, Output

pytestmark = LOOPS


# Output.all ----------------------------------------------------------------


def test_all_of_nothing_is_an_empty_list(new_loop):
    async def main():
        assert await settled(Output.all()) == ([], True, False, set())

    run(new_loop, main)


def test_all_positional_is_a_list_in_order(new_loop):
    async def main():
        o = Output.all(made(1, deps=["a"]), "two", later(3),
                       [made(4, secret=True, deps=["b"])], {"k": later(5)})
        assert await settled(o) == ([1, "two", 3, [4], {"k": 5}], True, True,
                                    {"a", "b"})

    run(new_loop, main)


def test_all_keywords_is_a_dict(new_loop):
    async def main():
        o = Output.all(x=made(1, deps=["a"]), y=later("y"), z=[made(2)])
        value, known, secret, deps = await settled(o)
        assert value == {"x": 1, "y": "y", "z": [2]}
        assert list(value) == ["x", "y", "z"]
        assert (known, secret, deps) == (True, False, {"a"})

    run(new_loop, main)


def test_all_of_one_list_is_a_list_of_one_list(new_loop):
    async def main():
        o = Output.all([made(1), made(2)])
        assert (await settled(o))[0] == [[1, 2]]

    run(new_loop, main)


def test_all_mixing_positional_and_keyword_is_a_value_error(new_loop):
    async def main():
        with pytest.raises(ValueError):
            Output.all(made(1), y=made(2))

    run(new_loop, main)


def test_all_is_unknown_if_any_input_is(new_loop):
    async def main():
        o = Output.all(made(1, secret=True, deps=["a"]),
                       made(None, known=False, deps=["b"]))
        _, known, secret, deps = await settled(o)
        assert (known, secret, deps) == (False, True, {"a", "b"})
        kw = Output.all(a=made(1), b=made(None, known=False))
        assert (await settled(kw))[1] is False

    run(new_loop, main)


def test_all_rejects_as_soon_as_any_input_does(new_loop):
    async def main():
        never = Output._pending()
        exc = KeyError("one failed")
        o = Output.all(never, failed(exc), made(1))
        assert await error_of(o) is exc
        assert state(never) == "pending"
        never._resolve(None)

    run(new_loop, main)


def test_all_waits_for_pending_inputs(new_loop):
    async def main():
        a, b = Output._pending(), Output._pending()
        o = Output.all(a, b)
        a._resolve("a")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert state(o) == "pending"
        b._resolve("b", secret=True)
        assert await settled(o) == (["a", "b"], True, True, set())

    run(new_loop, main)


def test_all_with_the_same_output_twice(new_loop):
    async def main():
        a = made("same", deps=["r"])
        assert await settled(Output.all(a, a)) == (["same", "same"], True,
                                                   False, {"r"})

    run(new_loop, main)


# Output.concat -------------------------------------------------------------


def test_concat_joins_strings(new_loop):
    async def main():
        o = Output.concat("http://", made("host", deps=["h"]), ":",
                          later("80"), made("/x", secret=True))
        assert await settled(o) == ("http://host:80/x", True, True, {"h"})
        assert await settled(Output.concat()) == ("", True, False, set())

    run(new_loop, main)


def test_concat_of_a_non_str_part_rejects_with_type_error(new_loop):
    async def main():
        for part in (1, made(2), None, b"bytes", later(3.5)):
            o = Output.concat("a", part)
            assert type(await error_of(o)) is TypeError

    run(new_loop, main)


def test_concat_is_unknown_with_value_none_if_any_part_is(new_loop):
    async def main():
        o = Output.concat("a", made(None, known=False, deps=["u"]),
                          made("s", secret=True))
        assert await settled(o) == (None, False, True, {"u"})
        assert await o.future() is None

    run(new_loop, main)


def test_concat_rejects_if_a_part_does(new_loop):
    async def main():
        exc = OSError("part failed")
        assert await error_of(Output.concat("a", failed(exc))) is exc

    run(new_loop, main)


# Output.format -------------------------------------------------------------


def test_format_formats_the_values(new_loop):
    async def main():
        o = Output.format("{0}-{name}-{1:>3}-{2[k]}", made("a", deps=["r"]),
                          later(7), {"k": made("v", secret=True)},
                          name=made("n", deps=["s"]))
        assert await settled(o) == ("a-n-  7-v", True, True, {"r", "s"})

    run(new_loop, main)


def test_format_with_no_arguments_still_formats(new_loop):
    async def main():
        assert (await settled(Output.format("{{}}")))[0] == "{}"

    run(new_loop, main)


@pytest.mark.parametrize("unknown", [
    lambda: made(None, known=False, deps=["u"]),
    lambda: made(5, known=False, deps=["u"]),
    lambda: made([1, UNKNOWN], deps=["u"]),
])
def test_format_is_unknown_with_value_unknown(new_loop, unknown):
    async def main():
        o = Output.format("{}{}", unknown(), made("s", secret=True))
        value, known, secret, deps = await settled(o)
        assert value is UNKNOWN
        assert (known, secret, deps) == (False, True, {"u"})
        assert await o.future() is None
        assert await o.future(with_unknowns=True) is UNKNOWN

    run(new_loop, main)


def test_format_rejects_if_format_raises_or_an_input_does(new_loop):
    async def main():
        assert type(await error_of(Output.format("{0}{1}", "one"))) is \
            IndexError
        exc = ArithmeticError("input failed")
        assert await error_of(Output.format("{}", failed(exc))) is exc

    run(new_loop, main)


def test_results_are_pending_until_inputs_settle(new_loop):
    async def main():
        p = Output._pending()
        outs = [Output.all(p), Output.concat("a", p), Output.format("{}", p)]
        await asyncio.sleep(0)
        assert [state(o) for o in outs] == ["pending"] * 3
        p._resolve("x")
        await settle(*outs)
        assert [facts(o)[0] for o in outs] == [["x"], "ax", "x"]

    run(new_loop, main)
