"""Output: Outrun's native Output beside pulumi's, under pulumi's mocks.

The peer is the ``pulumi`` package from PyPI, driven the way a pulumi
program or unit test drives it: ``pulumi.runtime.set_mocks`` with a trivial
``Mocks`` subclass, inside a running event loop.  pulumi is never a
dependency of Outrun; ``scripts/bench-env.sh`` installs it into a separate
benchmark environment.  Without it the table shows Outrun alone.

Both sides run in this one process, on the same scenario code (only the
``Output`` class differs), alternating sample by sample.  Each sample gets
a fresh event loop, and on the pulumi side fresh settings: its options are
reset, the mocks set anew and its set of tracked Outputs emptied, so that
neither side sees what the other (or an earlier sample) left behind.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from outrun.bench._harness import Row, alternate, median, on_fresh_loop

# The most outrun/peer may be for applies and Output.all elements.
RATIO_GOAL = 1 / 20
# The most a settled Output may take, in bytes, whatever pulumi takes.
SETTLED_BYTES_GOAL = 200.0
# The depth of the nested dict given to from_input.
NESTED_DEPTH = 50
# Output.all over a thousand elements is quick; each sample repeats it
# this many times so that one sample is long enough to time.
ALL_REPEATS = 10


# ---------------------------------------------------------------------------
# The two sides

class Side:
    """One Output implementation and how a sample runs on it."""

    name = ""
    Output: Any = None

    async def enter(self) -> None:
        """Prepares a sample, on its fresh loop."""

    async def leave(self) -> None:
        """Cleans up after a sample, on its loop."""

    def settled(self, o: Any) -> bool:
        raise NotImplementedError

    def pending(self) -> Any:
        """A pending Output, as the engine makes one for a resource."""
        raise NotImplementedError

    def drop_pending(self, outs: list[Any]) -> None:
        """Lets go of the Outputs pending() made."""

    def after_settling(self) -> None:
        """Called once Outputs have settled, before memory is counted."""


class OutrunSide(Side):
    name = "outrun"

    def __init__(self) -> None:
        import outrun

        self.Output = outrun.Output

    def settled(self, o: Any) -> bool:
        return o._peek()[0] != "pending"

    def pending(self) -> Any:
        return self.Output._pending()

    def drop_pending(self, outs: list[Any]) -> None:
        for o in outs:
            o._resolve(None)


class PulumiSide(Side):
    """pulumi's Output under its mocks.  Two private names of pulumi's are
    used: ``_data``, to check outside the timed part that an Output has
    settled, and ``_from_data``, to make a pending Output the way
    pulumi's engine does."""

    name = "pulumi"

    def __init__(self) -> None:
        import pulumi
        from pulumi.output import Output
        from pulumi.runtime import settings
        from pulumi.runtime.stack import wait_for_rpcs

        # Pulumi is optional here and mypy checks without it: Mocks is Any.
        class TrivialMocks(pulumi.runtime.Mocks):  # type: ignore[misc]
            """Every resource gets an id made of its name and returns its
            inputs; every call returns nothing."""

            def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
                return f"{args.name}_id", args.inputs

            def call(self, args: Any) -> tuple[dict[str, Any], None]:
                return {}, None

        self.Output = Output
        self._pulumi = pulumi
        self._settings = settings
        self._wait_for_rpcs = wait_for_rpcs
        self._mocks = TrivialMocks

    async def enter(self) -> None:
        self._settings.reset_options(project="bench", stack="bench",
                                     preview=False)
        self._pulumi.runtime.set_mocks(self._mocks(), project="bench",
                                       stack="bench", preview=False)
        self._settings.SETTINGS.outputs.clear()

    async def leave(self) -> None:
        await self._wait_for_rpcs()
        self._settings.SETTINGS.outputs.clear()

    def settled(self, o: Any) -> bool:
        return o._data.done()

    def pending(self) -> Any:
        # What pulumi.runtime.resource.resource_output makes for each
        # output property of a resource.
        return self.Output._from_data(
            asyncio.get_running_loop().create_future())

    def drop_pending(self, outs: list[Any]) -> None:
        # Untracked, so that leave() does not wait for them.
        self._settings.SETTINGS.outputs.clear()

    def after_settling(self) -> None:
        # Settled Outputs have left pulumi's tracking set; clearing the
        # empty set frees the table it grew to, which is not the Outputs'.
        self._settings.SETTINGS.outputs.clear()


def _sample(side: Side, case: Case, n: int) -> float:
    """Runs one sample of case on side, on a fresh event loop."""
    async def whole() -> float:
        await side.enter()
        try:
            return await case.measure(side, n)
        finally:
            await side.leave()

    return on_fresh_loop(whole)


# ---------------------------------------------------------------------------
# The scenarios: the same code for both sides, on side.Output

def _inc(v: int) -> int:
    return v + 1


def _check(ok: bool, what: str) -> None:
    # A wrong result must fail the benchmark, not time it.
    if not ok:
        raise RuntimeError(what)


def _check_settled(side: Side, outs: list[Any], what: str) -> None:
    # Timing stops when the last Output made settles.  Both sides settle
    # in the order the work was registered, so the others have settled
    # too; this proves it (outside the timed part).
    _check(all(side.settled(o) for o in outs),
           f"{side.name}: {what}: the last Output settled before others; "
           "the timing would be wrong")


async def apply_chain(side: Side, n: int) -> float:
    """o = o.apply(inc), n times, from a settled Output; until the last
    settles.  Seconds per apply."""
    o = side.Output.from_input(0)
    await o.future()
    start = time.perf_counter()
    for _ in range(n):
        o = o.apply(_inc)
    value = await o.future()
    elapsed = time.perf_counter() - start
    _check(value == n, f"{side.name}: the chain gave {value!r}, not {n}")
    return elapsed / n


async def _many(side: Side, n: int, what: str, make: Callable[..., Any],
                *args: Any) -> tuple[float, Any]:
    """Calls make(*args) n times, keeping every Output it returns, until
    the last settles; returns the seconds that took and its value."""
    outs: list[Any] = [None] * n
    start = time.perf_counter()
    for i in range(n):
        outs[i] = make(*args)
    value = await outs[-1].future()
    elapsed = time.perf_counter() - start
    _check_settled(side, outs, what)
    return elapsed, value


async def apply_fan_out(side: Side, n: int) -> float:
    """n applies on one settled Output; until the last settles.  Seconds
    per apply."""
    source = side.Output.from_input(1)
    await source.future()
    elapsed, value = await _many(side, n, "fan-out", source.apply, _inc)
    _check(value == 2, f"{side.name}: the fan-out gave {value!r}, not 2")
    return elapsed / n


async def output_all(side: Side, n: int) -> float:
    """Output.all over n settled Outputs, from the call to the awaited
    list, ALL_REPEATS times.  Seconds per element."""
    inputs = [side.Output.from_input(i) for i in range(n)]
    for o in inputs:
        await o.future()
    expected = list(range(n))
    start = time.perf_counter()
    for _ in range(ALL_REPEATS):
        value = await side.Output.all(*inputs).future()
    elapsed = time.perf_counter() - start
    _check(value == expected, f"{side.name}: Output.all gave a wrong list")
    return elapsed / (ALL_REPEATS * n)


URL = "https://example.com:8080/index.html"


async def _parts(side: Side) -> tuple[Any, Any, Any, Any]:
    """Settled Outputs of the parts of URL: host, port (str and int),
    path."""
    o = side.Output
    parts = (o.from_input("example.com"), o.from_input("8080"),
             o.from_input(8080), o.from_input("index.html"))
    for p in parts:
        await p.future()
    return parts


async def concat(side: Side, n: int) -> float:
    """Output.concat of three settled Outputs and three strings, n times;
    until the last settles.  Seconds per concat."""
    host, port, _, path = await _parts(side)
    elapsed, value = await _many(side, n, "concat", side.Output.concat,
                                 "https://", host, ":", port, "/", path)
    _check(value == URL, f"{side.name}: concat gave {value!r}")
    return elapsed / n


async def format_(side: Side, n: int) -> float:
    """Output.format with three settled Outputs (one an int), n times;
    until the last settles.  Seconds per format."""
    host, _, port, path = await _parts(side)
    elapsed, value = await _many(side, n, "format", side.Output.format,
                                 "https://{}:{}/{}", host, port, path)
    _check(value == URL, f"{side.name}: format gave {value!r}")
    return elapsed / n


def nested_input(n: int, depth: int,
                 leaf: Callable[[int], Any]) -> dict[str, Any]:
    """A dict nested depth levels deep with n leaves spread over the
    levels; leaf(i) is the i-th leaf."""
    depth = max(1, min(depth, n))
    root: dict[str, Any] = {}
    level = root
    i = 0
    for d in range(depth):
        # The leaves left, spread evenly over the levels left.
        for _ in range((n - i) // (depth - d)):
            level[f"k{i}"] = leaf(i)
            i += 1
        if d < depth - 1:
            level["child"] = level = {}
    return root


async def from_input_nested(side: Side, n: int) -> float:
    """from_input of a dict NESTED_DEPTH deep with n leaves, every second
    one a settled Output; until it settles.  Seconds per leaf."""
    o = side.Output
    leaves: list[Any] = [o.from_input(i) if i % 2 else i for i in range(n)]
    for leaf in leaves[1::2]:
        await leaf.future()
    tree = nested_input(n, NESTED_DEPTH, leaves.__getitem__)
    start = time.perf_counter()
    value = await o.from_input(tree).future()
    elapsed = time.perf_counter() - start
    _check(value == nested_input(n, NESTED_DEPTH, int),
           f"{side.name}: from_input gave a wrong dict")
    return elapsed / n


async def _bytes_per_output(side: Side, n: int,
                            make: Callable[[], Any]) -> tuple[float,
                                                              list[Any]]:
    """Python-heap bytes that n Outputs from make() hold, per Output, as
    tracemalloc counts them, and the Outputs."""
    outs: list[Any] = [None] * n
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            outs[i] = make()
        # Let the loop run what the Outputs scheduled (pulumi's tracking
        # callbacks), so that only what they hold on to is counted.
        for _ in range(3):
            await asyncio.sleep(0)
        side.after_settling()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / n, outs


async def settled_bytes(side: Side, n: int) -> float:
    """Bytes per settled Output: n of Output.from_input(1), all holding
    the same value object."""
    value = 1
    per, outs = await _bytes_per_output(
        side, n, lambda: side.Output.from_input(value))
    _check_settled(side, outs, "settled memory")
    return per


async def pending_bytes(side: Side, n: int) -> float:
    """Bytes per pending Output: n Outputs as the engine makes them for a
    resource's outputs, before they settle."""
    per, outs = await _bytes_per_output(side, n, side.pending)
    _check(not any(side.settled(o) for o in outs),
           f"{side.name}: a pending Output settled")
    side.drop_pending(outs)
    return per


@dataclass
class Case:
    """One row of the table."""

    label: str  # with {n} for the size
    measure: Callable[[Side, int], Awaitable[float]]
    size: int
    per: str
    unit: str = "s"
    goal: float | None = None
    max_value: float | None = None
    memory: bool = False


CASES = [
    Case("apply chain, {n:,} applies", apply_chain, 10_000, "apply",
         goal=RATIO_GOAL),
    Case("apply fan-out, {n:,} applies on one Output", apply_fan_out,
         10_000, "apply", goal=RATIO_GOAL),
    Case("Output.all over {n:,} Outputs", output_all, 1_000, "element",
         goal=RATIO_GOAL),
    Case("Output.concat x{n:,} (3 Outputs, 3 str)", concat, 10_000,
         "concat"),
    Case("Output.format x{n:,} (3 Outputs)", format_, 10_000, "format"),
    Case("from_input, dict depth 50, {n:,} leaves", from_input_nested,
         10_000, "leaf"),
    Case("memory, {n:,} settled Outputs", settled_bytes, 100_000,
         "Output", unit="B", max_value=SETTLED_BYTES_GOAL, memory=True),
    Case("memory, {n:,} pending Outputs", pending_bytes, 100_000,
         "Output", unit="B", memory=True),
]

# Memory is counted, not timed, and comes out the same run after run.
MEMORY_RUNS = 3


def _pulumi_side() -> tuple[Side | None, str]:
    """pulumi's side and its name, or None and why it is missing."""
    try:
        import pulumi  # noqa: F401
    # A broken install too: say why and go on without the peer.
    except Exception as exc:  # noqa: BLE001
        return None, f"{type(exc).__name__}: {exc}"
    from importlib.metadata import PackageNotFoundError, version

    try:
        name = f"pulumi {version('pulumi')} (mocks)"
    except PackageNotFoundError:
        name = "pulumi (mocks)"
    return PulumiSide(), name


def run(host: str, runs: int, scale: float = 1.0) -> list[Row]:
    """Measures the scenario; returns its rows."""
    peer, peer_name = _pulumi_side()
    if peer is None:
        print(f"outrun bench: output: pulumi is not importable ({peer_name}); "
              "showing Outrun alone (scripts/bench-env.sh makes an "
              "environment with it)", file=sys.stderr)
        peer_name = "pulumi"
    ours = OutrunSide()
    rows: list[Row] = []
    for sc in CASES:
        n = max(1, round(sc.size * scale))
        r = min(runs, MEMORY_RUNS) if sc.memory else runs

        def on(side: Side | None, sc: Case = sc,
               n: int = n) -> Callable[[], float]:
            if side is None:
                return lambda: 0.0
            return lambda: _sample(side, sc, n)

        peer_samples, outrun_samples = alternate(
            on(peer), on(ours), runs=r, warmup=0 if sc.memory else 1)
        if sc.memory:
            note = (f"tracemalloc: the Python-heap bytes {n:,} Outputs "
                    f"hold (GC headers included, allocator rounding not), "
                    f"/ {n:,}; {r} runs each")
        elif not rows and peer is None:
            note = (f"median of {r} runs, every run on a fresh event "
                    "loop, timed until the last Output made settles")
        elif not rows:
            note = (f"median of {r} runs each, alternating; every run on "
                    "a fresh event loop (pulumi: options reset, mocks set "
                    "anew, tracked Outputs emptied), timed until the last "
                    "Output made settles")
        else:
            note = ""
        rows.append(Row(
            scenario=sc.label.format(n=n),
            peer=peer_name,
            peer_value=median(peer_samples) if peer else None,
            outrun_value=median(outrun_samples),
            unit=sc.unit,
            goal=sc.goal,
            runs=r,
            peer_samples=peer_samples if peer else [],
            outrun_samples=outrun_samples,
            note=note,
            per=sc.per,
            max_value=sc.max_value,
            peer_absent="" if peer else "not installed",
        ))
    return rows
