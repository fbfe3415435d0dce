"""outrun.ffi: C functions of a real shared library (the fixture built
under tests/ffi/), called on pool threads or synchronously.  Tests assert
values and counts (the fixture counts concurrent calls); they never time."""

from __future__ import annotations

import asyncio
import errno
import os

import outrun
import pytest
from outrun import Output
from output_support import LOOPS, run

pytestmark = LOOPS

FIXTURE = os.environ.get("OUTRUN_FFI_FIXTURE")
if FIXTURE is None:  # pragma: no cover - the meson suites always set it
    pytest.fail("OUTRUN_FFI_FIXTURE is not set: run the tests through "
                "`meson test`", pytrace=False)

# (identity function suffix, declared type, values at the edges)
INTEGERS = [
    ("schar", "signed char", [-128, 127]),
    ("uchar", "unsigned char", [0, 255]),
    ("short", "short", [-32768, 32767]),
    ("ushort", "unsigned short", [0, 65535]),
    ("int", "int", [-2**31, 2**31 - 1]),
    ("uint", "unsigned int", [0, 2**32 - 1]),
    ("long", "long", [-2**63, 2**63 - 1]),
    ("ulong", "unsigned long", [0, 2**64 - 1]),
    ("longlong", "long long", [-2**63, 2**63 - 1]),
    ("ulonglong", "unsigned long long", [0, 2**64 - 1]),
    ("int8", "int8", [-128, 127]),
    ("uint8", "uint8", [0, 255]),
    ("int16", "int16", [-2**15, 2**15 - 1]),
    ("uint16", "uint16", [0, 2**16 - 1]),
    ("int32", "int32", [-2**31, 2**31 - 1]),
    ("uint32", "uint32", [0, 2**32 - 1]),
    ("int64", "int64", [-2**63, 2**63 - 1]),
    ("uint64", "uint64", [0, 2**64 - 1]),
    ("size_t", "size_t", [0, 2**64 - 1]),
    ("ssize_t", "ssize_t", [-2**63, 2**63 - 1]),
]


@pytest.fixture(scope="module")
def fx():
    return outrun.ffi.load(FIXTURE)


@pytest.mark.parametrize(("suffix", "ctype", "edges"), INTEGERS)
def test_every_integer_type_round_trips_at_its_edges(new_loop, fx, suffix,
                                                     ctype, edges):
    f = fx.function(f"fixture_id_{suffix}", ctype, [ctype])

    async def main():
        for v in edges:
            assert f.call(v) == v
            assert await f(v).future() == v
        low, high = edges
        with pytest.raises(OverflowError, match="does not fit"):
            f.call(high + 1)
        with pytest.raises(OverflowError, match="does not fit"):
            f.call(low - 1)

    run(new_loop, main)


def test_floats_bool_pointer_and_void(new_loop, fx):
    f32 = fx.function("fixture_id_float", "float", ["float"])
    f64 = fx.function("fixture_id_double", "double", ["double"])
    fb = fx.function("fixture_id_bool", "bool", ["bool"])
    fp = fx.function("fixture_id_pointer", "pointer", ["pointer"])
    noop = fx.function("fixture_noop", "void", [])

    async def main():
        assert f32.call(0.5) == 0.5
        assert await f64(1e300).future() == 1e300
        assert f64.call(3) == 3.0
        assert fb.call(1) is True and fb.call(0) is False
        assert fp.call(0x1234) == 0x1234 and fp.call(None) is None
        assert await noop().future() is None

    run(new_loop, main)


def test_strings_and_buffers(new_loop, fx):
    fx.cdef("""
        size_t fixture_strlen(const char *s);   /* a string in */
        const char *fixture_greeting(void);      // a string out
        void fixture_fill(unsigned char *buf, size_t n, unsigned char seed);
        uint64_t fixture_sum_bytes(const unsigned char *buf, size_t n);
    """)

    async def main():
        assert fx.fixture_strlen.call("héllo") == len("héllo".encode())
        assert await fx.fixture_strlen(b"abc").future() == 3
        assert fx.fixture_greeting.call() == "hello from the fixture"
        buf = bytearray(10)
        await fx.fixture_fill(buf, 10, 3).future()
        assert list(buf) == [(i * 7 + 3) & 0xff for i in range(10)]
        assert fx.fixture_sum_bytes.call(b"\x01\x02\x03", 3) == 6
        with pytest.raises(TypeError, match="read-only.*const"):
            fx.fixture_fill(b"0123456789", 10, 0)
        with pytest.raises(ValueError, match="NUL"):
            fx.fixture_strlen.call("a\0b")

    run(new_loop, main)


def test_errno_and_failure_conventions(new_loop, fx):
    raw = fx.function("fixture_fail_with", "int", ["int"], errno=True)
    checked = fx.function("fixture_fail_with", "int", ["int"],
                          fail="minus_one")

    async def main():
        assert raw.call(errno.ENOENT) == (-1, errno.ENOENT)
        with pytest.raises(FileNotFoundError):
            checked.call(errno.ENOENT)
        with pytest.raises(PermissionError):
            await checked(errno.EACCES).future()

    run(new_loop, main)


def test_bad_arguments_name_position_and_type(new_loop, fx):
    f = fx.function("fixture_id_int", "int", ["int"])

    async def main():
        with pytest.raises(TypeError, match="argument 1 is declared 'int'"):
            f("3")
        with pytest.raises(TypeError, match="takes 1 argument"):
            f.call(1, 2)

    run(new_loop, main)


def test_declaration_errors_are_clear(new_loop, fx):
    with pytest.raises(AttributeError, match="no_such_symbol"):
        fx.function("no_such_symbol", "int", [])
    with pytest.raises(ValueError, match="line 2, column"):
        fx.cdef("int fixture_peak(void);\nint fixture_reset(struct x);")
    with pytest.raises(ValueError, match="cannot read the types"):
        fx.function("fixture_peak", "quaternion", [])
    with pytest.raises(OSError, match="no_such_library"):
        outrun.ffi.load("/no_such_library.so")


def test_bare_names_are_found_the_usual_way(new_loop):
    libm = outrun.ffi.load("m")
    cos = libm.function("cos", "double", ["double"])
    assert cos.call(0.0) == 1.0


def test_outputs_as_arguments_are_waited_for(new_loop, fx):
    f = fx.function("fixture_id_int", "int", ["int"])

    async def main():
        pending = Output._pending()
        result = f(pending)
        pending._resolve(41)
        assert await result.apply(lambda v: v + 1).future() == 42
        with pytest.raises(ValueError, match="waits for it"):
            f.call(Output._pending())
        assert f.call(Output.from_input(7)) == 7

    run(new_loop, main)


def test_many_blocking_calls_run_in_parallel(new_loop, fx):
    fx.cdef("int fixture_block(unsigned ms); void fixture_reset(void);"
            "int fixture_peak(void);")
    import _outrun

    async def main():
        await fx.fixture_block(0).future()
        threads = _outrun.pool_stats()["threads"]
        fx.fixture_reset.call()
        await asyncio.gather(*[fx.fixture_block(20).future()
                               for _ in range(1000)])
        # Every pool thread was inside the C function at once.
        assert fx.fixture_peak.call() == threads

    run(new_loop, main)
