"""Every path of native offload, once, under the real host: the host suite
runs this under valgrind and ASan.  It asserts what it computes."""

import asyncio
import contextvars
import threading

import _outrun
import outrun

var = contextvars.ContextVar("var", default="unset")


def fail():
    raise ValueError("from a pool thread")


async def main():
    var.set("caller")
    assert await outrun.offload(var.get).future() == "caller"
    assert await outrun.to_thread(sum, [1, 2, 3]) == 6
    try:
        await outrun.offload(fail).future()
    except ValueError:
        pass
    else:
        raise AssertionError("the offloaded exception was lost")
    results = await asyncio.gather(*[outrun.to_thread(int, i)
                                     for i in range(500)])
    assert results == list(range(500))

    gate = threading.Event()
    threads = _outrun.pool_stats()["threads"]
    blockers = [asyncio.ensure_future(outrun.to_thread(gate.wait, 30))
                for _ in range(threads)]
    queued = asyncio.ensure_future(outrun.to_thread(int))
    await asyncio.sleep(0)
    queued.cancel()
    gate.set()
    await asyncio.gather(*blockers)

    lines = []
    r = await outrun.process.run(
        "echo out; echo err >&2", shell=True, input="x",
        on_output=lambda s, line: lines.append((s, line))).future()
    assert (r.stdout, r.stderr, sorted(lines)) == (
        "out\n", "err\n", [("stderr", "err"), ("stdout", "out")])
    try:
        await outrun.process.run(["sleep", "30"], timeout=0.1).future()
    except outrun.process.ProcessTimeoutError:
        pass
    else:
        raise AssertionError("the timeout did not fire")
    try:
        await outrun.process.run(["no-such-program-xyz"]).future()
    except FileNotFoundError:
        pass
    else:
        raise AssertionError("a missing program was not reported")
    libm = outrun.ffi.load("m")
    cos = libm.function("cos", "double", ["double"])
    assert cos.call(0.0) == 1.0 and await cos(0.0).future() == 1.0
    libc = outrun.ffi.load("c")
    libc.cdef("size_t strlen(const char *s);")
    assert await libc.strlen("four").future() == 4
    try:
        libc.strlen.call(4)
    except TypeError:
        pass
    else:
        raise AssertionError("a wrong argument type was accepted")
    # Left running: the host's shutdown kills it and exits.
    outrun.process.run(["sleep", "30"])
    print("offload tour: ok")


asyncio.run(main())
