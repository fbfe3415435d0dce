"""What a Pulumi program relies on: Outputs nested inside values resolve
deeply everywhere (apply results included), Pulumi's keyword names work,
from_input copies plain containers, messages name `Output`, an unknown
value never leaks through future(), and a failure that user code retrieved
and caught does not fail the run."""

from __future__ import annotations

import asyncio
import json

import outrun
import pytest
from output_support import LOOPS, error_of, later, made, run, settled
from outrun import UNKNOWN, Output


# Outputs inside values ------------------------------------------------------


@LOOPS
def test_an_apply_that_returns_a_dict_holding_a_secret_output(new_loop):
    async def main():
        o = Output.from_input(1).apply(
            lambda v: {"name": Output.secret("s")})
        assert await Output.all(o).future() == [{"name": "s"}]
        assert await Output.all(o).is_secret() is True
        # The apply's own Output holds the value, not an Output.
        value, known, secret, _ = await settled(o)
        assert value == {"name": "s"}
        assert (known, secret) == (True, True)

    run(new_loop, main)


@LOOPS
def test_nested_outputs_merge_their_facts_at_any_depth(new_loop):
    async def main():
        deep = made("leaf", secret=True, deps=["r1"])
        unknown = made(None, known=False, deps=["r2"])
        o = made(0, deps=["src"]).apply(
            lambda v: {"a": [({"b": deep},)], "c": [unknown]})
        value, known, secret, deps = await settled(o)
        assert value == {"a": [({"b": "leaf"},)], "c": [UNKNOWN]}
        assert (known, secret) == (False, True)
        assert deps == {"src", "r1", "r2"}

    run(new_loop, main)


@LOOPS
def test_an_async_apply_returning_a_list_of_outputs(new_loop):
    async def main():
        async def fetch(v):
            await asyncio.sleep(0)
            return [Output.from_input(later(v + 1)), Output.secret(v + 2)]

        o = Output.from_input(1).apply(fetch)
        assert await o.future() == [2, 3]
        assert await o.is_secret() is True

    run(new_loop, main)


@LOOPS
def test_concat_and_format_over_an_async_apply_returning_an_output(
        new_loop):
    async def main():
        async def host(v):
            return Output.from_input(f"{v}.example")

        name = Output.from_input("web").apply(host)
        assert await Output.concat("https://", name, "/").future() \
            == "https://web.example/"
        assert await Output.format("{}:{port}", name, port=443).future() \
            == "web.example:443"

    run(new_loop, main)


@LOOPS
@pytest.mark.parametrize("make", [
    pytest.param(lambda x: Output.from_input(x), id="from_input"),
    pytest.param(lambda x: Output.all(x).apply(lambda v: v[0]), id="all"),
    pytest.param(lambda x: Output.all(k=x).apply(lambda v: v["k"]),
                 id="all-kw"),
    pytest.param(lambda x: Output.secret(x), id="secret"),
])
def test_every_entry_point_resolves_outputs_that_values_hold(new_loop, make):
    async def main():
        holder = made(0).apply(lambda _: {"k": [Output.secret("s")]})
        o = make({"x": holder})
        assert await o.future() == {"x": {"k": ["s"]}}
        assert await o.is_secret() is True

    run(new_loop, main)


@LOOPS
def test_json_dumps_of_a_value_holding_outputs(new_loop):
    async def main():
        holder = made(0).apply(lambda _: {"pw": Output.secret("s")})
        o = Output.json_dumps({"cfg": holder}, sort_keys=True)
        assert json.loads(await o.future()) == {"cfg": {"pw": "s"}}
        assert await o.is_secret() is True

    run(new_loop, main)


@LOOPS
def test_outputs_used_as_dict_keys_resolve(new_loop):
    async def main():
        key = made("k", secret=True, deps=["rk"])
        o = Output.from_input({key: made(1, deps=["rv"]), "plain": 2})
        value, known, secret, deps = await settled(o)
        assert value == {"k": 1, "plain": 2}
        assert (known, secret, deps) == (True, True, {"rk", "rv"})
        # Keys that are awaitables are waited for too; the order is kept.
        o = Output.from_input({"a": 0, later("b"): 1, "c": 2})
        assert list((await o.future()).items()) == \
            [("a", 0), ("b", 1), ("c", 2)]

    run(new_loop, main)


@LOOPS
def test_a_key_that_resolves_to_something_unhashable_rejects(new_loop):
    async def main():
        o = Output.from_input({made(0).apply(lambda _: ["list"]): 1})
        exc = await error_of(o)
        assert isinstance(exc, TypeError)
        assert "unhashable" in str(exc)

    run(new_loop, main)


# Pulumi's keyword names -----------------------------------------------------


@LOOPS
def test_pulumi_keyword_names(new_loop):
    async def main():
        o = made(2)
        assert await o.apply(func=lambda v: v * 3).future() == 6
        unknown = made(None, known=False)
        seen = []
        await settled(unknown.apply(func=seen.append,
                                    run_with_unknowns=True))
        assert seen == [UNKNOWN]
        assert await unknown.apply(lambda v: v, run_with_unknowns=True) \
            .future(with_unknowns=True) is UNKNOWN
        assert await Output.from_input(val=[1]).future() == [1]
        assert await Output.secret(val=1).is_secret() is True
        assert await Output.unsecret(val=Output.secret(1)).is_secret() \
            is False
        assert await Output.format(format_string="a{x}", x=1).future() \
            == "a1"
        assert await Output.json_dumps(obj={"a": 1}).future() == '{"a": 1}'
        assert await Output.json_loads(s='{"a": 1}').future() == {"a": 1}

    run(new_loop, main)


def test_recover_with_func_keyword_handles_the_failure():
    async def main():
        bad = made(1).apply(lambda v: 1 / 0)
        return await bad.recover(func=lambda exc: type(exc).__name__) \
            .future()

    # outrun.run fails on unhandled failures: this one was recovered.
    assert outrun.run(main) == "ZeroDivisionError"


@LOOPS
def test_wrong_keywords_are_refused_with_the_name(new_loop):
    async def main():
        o = made(1)
        with pytest.raises(TypeError, match="unexpected keyword argument "
                                            "'fn'"):
            o.apply(fn=str)
        with pytest.raises(TypeError, match="multiple values for argument "
                                            "'run_with_unknowns'"):
            o.apply(str, True, run_with_unknowns=True)
        with pytest.raises(TypeError, match="unexpected keyword argument "
                                            "'value'"):
            Output.from_input(value=1)
        with pytest.raises(TypeError, match="multiple values for argument "
                                            "'format_string'"):
            Output.format("{}", 1, format_string="{}")
        with pytest.raises(TypeError, match="needs a function"):
            o.apply(run_with_unknowns=True)

    run(new_loop, main)


# No aliasing ----------------------------------------------------------------


@LOOPS
def test_from_input_takes_a_plain_container_s_value_at_call_time(new_loop):
    async def main():
        inner = [1, 2]
        d = {"a": inner, "t": (inner,)}
        o = Output.from_input(d)
        a = Output.all(inner)
        inner.append(3)
        d["b"] = 1
        assert await o.future() == {"a": [1, 2], "t": ([1, 2],)}
        assert await a.future() == [[1, 2]]
        # Empty containers too: a new one, not the caller's.
        empty: list[int] = []
        e = Output.from_input(empty)
        empty.append(1)
        assert await e.future() == []

    run(new_loop, main)


@LOOPS
def test_what_apply_returns_is_kept_as_it_is(new_loop):
    async def main():
        mine = {"a": [1]}
        o = made(0).apply(lambda _: mine)
        value, *_ = await settled(o)
        assert value is mine

    run(new_loop, main)


# Names users read -----------------------------------------------------------


@LOOPS
def test_messages_say_output_not_the_module(new_loop):
    async def main():
        o = made(1)
        for mistake in (lambda: o + 1, lambda: len(o), lambda: o < 1):
            with pytest.raises(TypeError) as info:
                mistake()
            assert "'Output'" in str(info.value), str(info.value)
            assert "_outrun" not in str(info.value)
        assert Output.__name__ == "Output"

    run(new_loop, main)


@LOOPS
def test_future_of_an_unknown_value_never_gives_its_input(new_loop):
    async def main():
        # What the engine gives during a preview: an input value, unknown.
        u = made("the-input", known=False)
        assert await u.future() is None
        assert await u.future(with_unknowns=True) is UNKNOWN
        derived = u.apply(lambda v: v + "!", run_with_unknowns=False)
        assert await derived.future() is None

    run(new_loop, main)


# A failure the program handled is handled ------------------------------------


def test_a_caught_failure_of_future_does_not_fail_the_run():
    async def main():
        try:
            await made(1).apply(lambda v: 1 / 0).future()
        except ZeroDivisionError:
            return "handled"

    assert outrun.run(main) == "handled"


def test_a_failure_caught_through_a_derived_output_is_handled():
    async def main():
        bad = made(1).apply(lambda v: 1 / 0)
        for ask in (lambda o: o.future(), lambda o: o.is_known(),
                    lambda o: o.is_secret(), lambda o: o.resources()):
            with pytest.raises(ZeroDivisionError):
                await ask(bad.apply(str))
        return "handled"

    assert outrun.run(main) == "handled"


def test_an_uncaught_failure_of_future_fails_the_run_once():
    async def main():
        await made(1).apply(lambda v: 1 / 0).future()

    with pytest.raises(ZeroDivisionError):
        outrun.run(main)


def test_a_failure_nobody_retrieved_still_fails_the_run():
    async def main():
        bad = made(1).apply(lambda v: 1 / 0)
        bad.future()  # asked for, never awaited
        await asyncio.sleep(0)
        return "done"

    with pytest.raises(ZeroDivisionError):
        outrun.run(main)


def test_a_handled_failure_of_one_output_leaves_another_s_failure():
    async def main():
        caught = made(1).apply(lambda v: 1 / 0)
        made(1).apply(lambda v: {}["missing"])
        with pytest.raises(ZeroDivisionError):
            await caught.future()

    with pytest.raises(KeyError):
        outrun.run(main)
