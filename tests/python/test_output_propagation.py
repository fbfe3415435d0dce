"""Secrets, unknowns and dependencies travel through every operation: an
Output derived from a secret is secret, from an unknown is unknown, and
carries its sources' dependencies."""

from __future__ import annotations

import pytest
from output_support import LOOPS, facts, made, run, settle
from outrun import Output

pytestmark = LOOPS


async def same(value):
    return value


# name: (the source's value, the operation on the source)
OPERATIONS = {
    "apply": ("v", lambda o: o.apply(lambda v: v + "!")),
    "apply returning an Output": (
        "v", lambda o: o.apply(lambda v: Output.from_input(v))),
    "apply returning an awaitable": ("v", lambda o: o.apply(same)),
    "apply chain": ("v", lambda o: o.apply(str.upper).apply(len)),
    "all": ("v", lambda o: Output.all(o, "x")),
    "all by keyword": ("v", lambda o: Output.all(a=o, b="x")),
    "concat": ("v", lambda o: Output.concat("<", o, ">")),
    "format": ("v", lambda o: Output.format("<{}>", o)),
    "from_input of a list": ("v", lambda o: Output.from_input([o, 1])),
    "from_input of a dict": ("v", lambda o: Output.from_input({"k": o})),
    "from_input of a tuple": ("v", lambda o: Output.from_input((o,))),
    "from_input deep": ("v", lambda o: Output.from_input({"a": [{"b": o}]})),
    "secret": ("v", Output.secret),
    "json_dumps": ("v", lambda o: Output.json_dumps({"a": o})),
    "json_loads": ('{"k": 1}', Output.json_loads),
    "item lifting": ({"k": "v"}, lambda o: o["k"]),
    "attribute lifting": (1, lambda o: o.real),
    "recover": ("v", lambda o: o.recover(lambda exc: "recovered")),
}


def derive(name, **facts_of_source):
    value, operation = OPERATIONS[name]
    source = Output._pending()
    derived = operation(source)
    source._resolve(value, **facts_of_source)
    return derived


@pytest.mark.parametrize("name", OPERATIONS)
def test_secret_propagates(new_loop, name):
    async def main():
        o = derive(name, secret=True)
        await settle(o)
        assert facts(o)[2] is True

    run(new_loop, main)


@pytest.mark.parametrize("name", OPERATIONS)
def test_dependencies_propagate(new_loop, name):
    async def main():
        deps = ("resource-a", ("resource", 2))
        o = derive(name, deps=deps)
        await settle(o)
        assert set(deps) <= facts(o)[3]
        assert await o.resources() == facts(o)[3]

    run(new_loop, main)


@pytest.mark.parametrize("name", OPERATIONS)
def test_unknown_propagates(new_loop, name):
    async def main():
        o = derive(name, known=False)
        await settle(o)
        assert facts(o)[1] is False
        assert await o.is_known() is False

    run(new_loop, main)


@pytest.mark.parametrize("name", sorted(set(OPERATIONS) - {"secret"}))
def test_plain_sources_give_plain_results(new_loop, name):
    async def main():
        o = derive(name)
        await settle(o)
        _, known, secret, deps = facts(o)
        assert (known, secret, deps) == (True, False, set())

    run(new_loop, main)


def test_unsecret_ends_the_taint_and_it_does_not_come_back(new_loop):
    async def main():
        s = made("v", secret=True, deps=["r"])
        o = Output.unsecret(s).apply(str.upper)
        await settle(o)
        assert facts(o) == ("V", True, False, {"r"})

    run(new_loop, main)


def test_a_secret_made_inside_a_skipped_apply_does_not_appear(new_loop):
    async def main():
        o = made(None, known=False).apply(lambda v: Output.secret(v))
        await settle(o)
        assert facts(o)[1:3] == (False, False)

    run(new_loop, main)


def test_dependencies_of_many_sources_are_merged(new_loop):
    async def main():
        a = made(1, deps=["a", "shared"])
        b = made(2, deps=["b", "shared"])
        c = made(3, deps=[])
        o = Output.all(a, b.apply(lambda v: c.apply(lambda w: v + w)))
        await settle(o)
        assert facts(o) == ([1, 5], True, False, {"a", "b", "shared"})

    run(new_loop, main)
