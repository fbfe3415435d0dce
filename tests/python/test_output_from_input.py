"""Making Outputs: Output.from_input (deep), Output.secret/unsecret,
UNKNOWN and contains_unknowns, and Output[T] for type hints."""

from __future__ import annotations

import asyncio
import typing

import outrun
import pytest
from output_support import (
    LOOPS,
    error_of,
    facts,
    later,
    made,
    run,
    settle,
    settled,
    state,
)
from outrun import UNKNOWN, Output, Unknown, contains_unknowns

pytestmark = LOOPS


class Opaque:
    """An object from_input holds as it is."""


# The public names --------------------------------------------------------


def test_public_names(new_loop):
    assert outrun.Output is Output
    assert isinstance(UNKNOWN, Unknown)
    assert type(UNKNOWN) is Unknown
    assert callable(outrun.deferred_output)
    assert callable(contains_unknowns)


def test_contains_unknowns_looks_in_dict_values_and_list_elements(new_loop):
    assert contains_unknowns(UNKNOWN)
    assert contains_unknowns([1, UNKNOWN])
    assert contains_unknowns({"a": UNKNOWN})
    assert contains_unknowns({"a": [{"b": [UNKNOWN]}]})
    assert not contains_unknowns(None)
    assert not contains_unknowns([1, "x", {"a": 2}])
    # Only dict values and list elements are looked into.
    assert not contains_unknowns((UNKNOWN,))
    assert not contains_unknowns({UNKNOWN: 1})
    assert not contains_unknowns({1, 2})


def test_contains_unknowns_survives_a_cycle(new_loop):
    cyclic: list = [1]
    cyclic.append(cyclic)
    cyclic_dict: dict = {}
    cyclic_dict["self"] = cyclic_dict

    assert not contains_unknowns(cyclic)
    assert not contains_unknowns(cyclic_dict)
    cyclic.append(UNKNOWN)
    assert contains_unknowns(cyclic)


def test_output_of_str_is_a_generic_alias(new_loop):
    alias = Output[str]

    assert alias.__origin__ is Output
    assert typing.get_origin(alias) is Output
    assert typing.get_args(alias) == (str,)
    assert typing.get_args(list[Output[int]]) == (Output[int],)

    def hinted(x: Output[str]) -> Output[int]:
        return x

    hints = typing.get_type_hints(hinted)
    assert hints["x"] == Output[str]
    assert hints["return"] == Output[int]


# from_input --------------------------------------------------------------


@pytest.mark.parametrize("value", [
    None, 0, 1.5, "text", b"bytes", {}, [], (), {1, 2}, frozenset(),
    Opaque(), Opaque,
])
def test_any_other_object_is_held_as_it_is(new_loop, value):
    async def main():
        o = Output.from_input(value)
        assert isinstance(o, Output)
        got, known, secret, deps = await settled(o)
        assert got is value or (got == value and type(got) is type(value))
        assert (known, secret, deps) == (True, False, set())
        assert await o.future() == value
        assert await o.is_known() is True
        assert await o.is_secret() is False
        assert await o.resources() == set()

    run(new_loop, main)


def test_outputs_inside_other_objects_are_held_as_they_are(new_loop):
    async def main():
        inner = made(1, secret=True, deps=["r"])
        holder = Opaque()
        holder.inner = inner
        a_set = frozenset([inner])
        for x in (holder, a_set):
            value, known, secret, deps = await settled(Output.from_input(x))
            assert value is x
            assert (known, secret, deps) == (True, False, set())

    run(new_loop, main)


def test_an_output_with_a_plain_value_comes_back_as_itself(new_loop):
    async def main():
        o = made(5, secret=True, deps=["r"])
        assert Output.from_input(o) is o

    run(new_loop, main)


def test_a_pending_output_is_followed(new_loop):
    async def main():
        p = Output._pending()
        o = Output.from_input(p)
        await asyncio.sleep(0)
        assert state(o) == "pending"
        p._resolve("v", secret=True, deps=["r"])
        assert await settled(o) == ("v", True, True, {"r"})

    run(new_loop, main)


def test_deep_dicts_lists_and_tuples(new_loop):
    async def main():
        a = made(1, deps=["ra"])
        b = made("two", secret=True, deps=["rb"])
        c = made([3], deps=["rc"])
        x = {"a": a, "nested": [b, {"c": c, "plain": 4}], "t": (a, "t")}
        o = Output.from_input(x)
        value, known, secret, deps = await settled(o)
        assert value == {"a": 1, "nested": ["two", {"c": [3], "plain": 4}],
                         "t": (1, "t")}
        assert type(value["t"]) is tuple
        assert type(value["nested"]) is list
        assert (known, secret, deps) == (True, True, {"ra", "rb", "rc"})
        # The input is left alone.
        assert x["a"] is a and x["nested"][0] is b

    run(new_loop, main)


def test_awaitables_inside_are_awaited(new_loop):
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        task = asyncio.ensure_future(later("from a task"))
        x = [later("from a coroutine"), {"f": fut}, (task,)]
        o = Output.from_input(x)
        await asyncio.sleep(0)
        assert state(o) == "pending"
        loop.call_soon(fut.set_result, "from a future")
        value, known, secret, deps = await settled(o)
        assert value == ["from a coroutine", {"f": "from a future"},
                         ("from a task",)]
        assert (known, secret, deps) == (True, False, set())

    run(new_loop, main)


def test_an_awaitable_s_result_goes_through_from_input(new_loop):
    async def main():
        async def gives_outputs():
            await asyncio.sleep(0)
            return {"a": made(1, secret=True, deps=["r"]),
                    "b": later([made(2)])}

        o = Output.from_input(gives_outputs())
        assert await settled(o) == ({"a": 1, "b": [2]}, True, True, {"r"})

    run(new_loop, main)


def test_a_top_level_awaitable(new_loop):
    async def main():
        o = Output.from_input(later(7, turns=5))
        assert await settled(o) == (7, True, False, set())

    run(new_loop, main)


def test_a_failing_awaitable_rejects(new_loop):
    async def main():
        async def fails():
            await asyncio.sleep(0)
            raise LookupError("input failed")

        o = Output.from_input({"a": [fails()], "b": 1})
        exc = await error_of(o)
        assert type(exc) is LookupError
        assert str(exc) == "input failed"

    run(new_loop, main)


def test_a_rejected_output_inside_rejects(new_loop):
    async def main():
        bad = Output._pending()
        bad._reject(KeyError("nested"))
        exc = await error_of(Output.from_input([1, {"x": bad}]))
        assert type(exc) is KeyError

    run(new_loop, main)


def test_an_unknown_output_inside_makes_it_unknown(new_loop):
    async def main():
        u = made(None, known=False, deps=["ru"])
        o = Output.from_input({"a": u, "b": made(1, secret=True)})
        await settle(o)
        _, known, secret, deps = facts(o)
        assert (known, secret, deps) == (False, True, {"ru"})
        assert await o.is_known() is False

    run(new_loop, main)


def test_dict_subclass_and_keys(new_loop):
    async def main():
        class Sub(dict):
            pass

        value, known, _, _ = await settled(
            Output.from_input(Sub(a=made(1), b=2)))
        assert value == {"a": 1, "b": 2}
        assert known is True

    run(new_loop, main)


def test_future_never_gives_what_an_unknown_output_holds(new_loop):
    async def main():
        # During a preview an unknown Output may hold the input it was
        # computed from; future() gives None, or UNKNOWN with_unknowns.
        assert await made(5, known=False).future() is None
        assert await made(5, known=False).future(with_unknowns=True) \
            is UNKNOWN
        assert await made(None, known=False).future() is None
        assert await made(None, known=False).future(
            with_unknowns=True) is None
        partly = made([UNKNOWN, 1])
        assert await partly.future() is None
        assert await partly.future(with_unknowns=True) == [UNKNOWN, 1]
        assert await partly.is_known() is False

    run(new_loop, main)


def test_resolving_with_unknowns_inside_is_unknown(new_loop):
    async def main():
        o = made({"a": [UNKNOWN]}, known=True)
        assert facts(o)[1] is False
        # Tuples are not looked into.
        t = made((UNKNOWN,), known=True)
        assert facts(t)[1] is True

    run(new_loop, main)


# secret and unsecret -------------------------------------------------------


def test_secret_marks_from_input_of_anything(new_loop):
    async def main():
        o = Output.secret({"a": made(1, deps=["r"]), "b": later(2)})
        assert await settled(o) == ({"a": 1, "b": 2}, True, True, {"r"})
        assert await o.is_secret() is True
        plain = Output.secret("p")
        assert await settled(plain) == ("p", True, True, set())

    run(new_loop, main)


def test_unsecret_keeps_the_rest(new_loop):
    async def main():
        s = made([1], known=True, secret=True, deps=["r1", "r2"])
        o = Output.unsecret(s)
        assert await settled(o) == ([1], True, False, {"r1", "r2"})
        u = Output.unsecret(made(None, known=False, secret=True, deps=["r"]))
        assert await settled(u) == (None, False, False, {"r"})
        # The source keeps its own facts.
        assert facts(s)[2] is True

    run(new_loop, main)


def test_secret_and_unsecret_of_a_rejected_output_reject(new_loop):
    async def main():
        for make in (Output.secret, Output.unsecret):
            bad = Output._pending()
            bad._reject(ValueError("bad"))
            assert type(await error_of(make(bad))) is ValueError

    run(new_loop, main)


def test_secret_of_a_pending_output_waits(new_loop):
    async def main():
        p = Output._pending()
        o = Output.secret(p)
        await asyncio.sleep(0)
        assert state(o) == "pending"
        p._resolve(3, deps=["r"])
        assert await settled(o) == (3, True, True, {"r"})

    run(new_loop, main)
