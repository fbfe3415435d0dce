"""Every path of the native Output, once, under the real host: the host
suite runs this under valgrind and ASan, where the pytest suites would be
too slow.  It asserts what it computes, so it fails loudly if a path
breaks."""

import asyncio
import gc
import json

import _outrun
from outrun import UNKNOWN, Output, contains_unknowns, deferred_output


async def value(o):
    return await o.future(with_unknowns=True)


async def main():
    two = Output.from_input(2)
    assert await value(two.apply(lambda v: v * 10)) == 20
    assert await value(Output.all(two, 3)) == [2, 3]
    assert await value(Output.all(a=two, b=[two])) == {"a": 2, "b": [2]}
    assert await value(Output.concat("x-", two.apply(str))) == "x-2"
    assert await value(Output.format("{}+{k}", two, k=two)) == "2+2"
    sec = Output.secret(5).apply(lambda v: v + 1)
    assert await sec.is_secret() and not await Output.unsecret(sec).is_secret()
    unknown = Output._resolved(None, known=False)
    assert not await unknown.apply(lambda v: 1 / 0).is_known()
    assert await value(unknown.apply(lambda v: v, True)) is UNKNOWN
    assert contains_unknowns({"a": [UNKNOWN]})
    nested = Output.from_input({"k": [1, {"z": 9}]})
    assert await value(nested["k"][1]["z"]) == 9
    assert await value(Output.from_input(1j).imag) == 1.0

    async def later():
        await asyncio.sleep(0)
        return 7

    assert await value(Output.from_input({"a": later(), "b": (two,)})) == {
        "a": 7, "b": (2,)}
    assert await value(two.apply(lambda v: later())) == 7
    assert json.loads(await value(Output.json_dumps({"a": two}))) == {"a": 2}
    assert await value(Output.json_loads(Output.from_input('{"b": 1}'))) == {
        "b": 1}

    chain = Output.from_input(0)
    for _ in range(20000):
        chain = chain.apply(lambda v: v + 1)
    assert await value(chain) == 20000

    pending = Output._pending()
    derived = pending.apply(lambda v: Output._resolved(v, deps=["inner"]))
    pending._resolve(1, deps=["outer"])
    assert await derived.resources() == {"inner", "outer"}

    bad = two.apply(lambda v: 1 / 0)
    assert await value(bad.recover(lambda exc: "recovered")) == "recovered"
    rejected = Output._pending()
    rejected._reject(ValueError("engine said no"))
    try:
        await rejected.future()
    except ValueError:
        pass
    else:
        raise AssertionError("a rejected Output's future did not raise")

    d, resolve = deferred_output()
    resolve(two)
    assert await value(d) == 2

    loop_d, loop_resolve = deferred_output()
    loop_resolve(loop_d.apply(lambda v: v))
    report = _outrun.scheduler().report()
    assert "cycle" in report, report

    for mistake in (str, bool, iter, lambda o: o(), lambda o: o.get()):
        try:
            mistake(two)
        except TypeError:
            pass
        else:
            raise AssertionError(f"{mistake} on an Output did not raise")
    assert repr(two) == "<Output 2>" and "secret" in repr(sec)
    del loop_d, loop_resolve, report
    gc.collect()
    print("output tour: ok")


asyncio.run(main())
