"""Attribute and item lifting: o.name and o[key]."""

from __future__ import annotations

import types

import pytest
from output_support import LOOPS, error_of, facts, made, run, settle, settled
from outrun import UNKNOWN, Output

pytestmark = LOOPS


def test_attribute_lifting(new_loop):
    async def main():
        src = made(types.SimpleNamespace(name="web", _private=1),
                   secret=True, deps=["r"])
        name = src.name
        assert isinstance(name, Output)
        assert await settled(name) == ("web", True, True, {"r"})
        # One underscore is not two: it is lifted too.
        assert (await settled(src._private))[0] == 1

    run(new_loop, main)


def test_item_lifting(new_loop):
    async def main():
        src = made({"a": [10, {"b": "deep"}]}, deps=["r"])
        o = src["a"][1]["b"]
        assert isinstance(o, Output)
        assert await settled(o) == ("deep", True, False, {"r"})
        assert (await settled(made([1, 2, 3])[-1]))[0] == 3
        assert (await settled(made("text")[1:3]))[0] == "ex"

    run(new_loop, main)


@pytest.mark.parametrize("name", ["__fields__", "__missing_dunder__"])
def test_dunder_names_are_not_lifted(new_loop, name):
    async def main():
        o = made(types.SimpleNamespace())
        with pytest.raises(AttributeError):
            getattr(o, name)
        assert not hasattr(o, name)

    run(new_loop, main)


def test_a_missing_attribute_rejects_the_lifted_output(new_loop):
    async def main():
        o = made(types.SimpleNamespace(a=1)).missing
        assert isinstance(o, Output)
        assert type(await error_of(o)) is AttributeError

    run(new_loop, main)


@pytest.mark.parametrize(("value", "key", "error"), [
    ({"a": 1}, "b", KeyError),
    ([1], 5, IndexError),
    (7, 0, TypeError),
])
def test_a_missing_key_rejects_the_lifted_output(new_loop, value, key,
                                                 error):
    async def main():
        assert type(await error_of(made(value)[key])) is error

    run(new_loop, main)


@pytest.mark.parametrize("lift", [lambda o: o.name, lambda o: o["key"],
                                  lambda o: o["a"]["b"].c])
def test_an_unknown_source_gives_unknown(new_loop, lift):
    async def main():
        o = lift(made(None, known=False, secret=True, deps=["r"]))
        value, known, secret, deps = await settled(o)
        assert value is UNKNOWN
        assert (known, secret, deps) == (False, True, {"r"})
        assert await o.future() is None
        assert await o.future(with_unknowns=True) is UNKNOWN

    run(new_loop, main)


def test_a_partly_unknown_source_lifts_its_known_parts(new_loop):
    async def main():
        src = made({"known": 1, "unknown": UNKNOWN})
        assert facts(src)[1] is False
        k = src["known"]
        u = src["unknown"]
        await settle(k, u)
        assert facts(k)[:2] == (1, True)
        assert facts(u)[:2] == (UNKNOWN, False)

    run(new_loop, main)


def test_lifting_a_rejected_source_rejects(new_loop):
    async def main():
        src = Output._pending()
        exc = LookupError("source failed")
        src._reject(exc)
        assert await error_of(src.anything) is exc
        assert await error_of(src[0]) is exc

    run(new_loop, main)


def test_lifting_an_attribute_that_is_an_output_flattens(new_loop):
    async def main():
        res = types.SimpleNamespace(urn=made("urn:x", deps=["res"]))
        o = made(res, deps=["src"]).urn
        assert await settled(o) == ("urn:x", True, False, {"res", "src"})

    run(new_loop, main)


def test_methods_of_output_are_not_lifted(new_loop):
    async def main():
        o = made(types.SimpleNamespace(apply="lifted"))
        assert callable(o.apply)
        assert not isinstance(o.apply, Output)

    run(new_loop, main)
