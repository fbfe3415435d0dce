"""The mistakes Output catches: str, f-strings, format, bool, iteration,
await, calling and .get() raise TypeError with a message that says what
to write instead."""

from __future__ import annotations

import pytest
from output_support import LOOPS, made, run

pytestmark = LOOPS

STRING_WAYS = ("Output.concat", "Output.format")


def _str(o):
    return str(o)


def _fstring(o):
    return f"prefix {o} suffix"


def _format(o):
    return format(o)


def _percent(o):
    return "%s" % o  # noqa: UP031 - the mistake under test


def _bool(o):
    return bool(o)


def _if(o):
    if o:  # noqa: SIM103 - the mistake under test
        return True
    return False


def _iter(o):
    return iter(o)


def _for(o):
    return [x for x in o]


def _list(o):
    return list(o)


def _unpack(o):
    a, b = o
    return a, b


def _call(o):
    return o()


def _get(o):
    return o.get()


# mistake: (what to write instead: every group must be named, a group by
# any of its members)
MISTAKES = {
    _str: [("apply",), STRING_WAYS],
    _fstring: [("apply",), STRING_WAYS],
    _format: [("apply",), STRING_WAYS],
    _percent: [("apply",), STRING_WAYS],
    _bool: [("apply",)],
    _if: [("apply",)],
    _iter: [("apply",)],
    _for: [("apply",)],
    _list: [("apply",)],
    _unpack: [("apply",)],
    _call: [("apply", "future()")],
    _get: [("apply", "future()")],
}


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda f: f.__name__[1:])
def test_mistake_raises_type_error_saying_what_to_use(new_loop, mistake):
    async def main():
        o = made("value")
        with pytest.raises(TypeError) as info:
            mistake(o)
        message = str(info.value)
        for group in MISTAKES[mistake]:
            assert any(way in message for way in group), (group, message)

    run(new_loop, main)


def test_await_raises_type_error_saying_use_future(new_loop):
    async def main():
        o = made("value")
        with pytest.raises(TypeError) as info:
            await o
        assert "future()" in str(info.value)

    run(new_loop, main)


def test_mistakes_on_a_pending_output_too(new_loop):
    async def main():
        from outrun import Output

        p = Output._pending()
        for mistake in MISTAKES:
            with pytest.raises(TypeError):
                mistake(p)
        p._resolve(None)

    run(new_loop, main)


def test_repr_still_works(new_loop):
    async def main():
        text = repr(made("value"))
        assert isinstance(text, str)
        assert "Output" in text

    run(new_loop, main)
