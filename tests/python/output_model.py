"""A pure-Python reference model of what an Output settles to, written from
docs/output.md, for the property tests to compare the native type with.

The model works on `Data`: the facts an Output settles to (value, known,
secret, dependencies) or the exceptions it may be rejected with.  It knows
nothing about loops or timing: every function returns the Data of the
Output the operation of the same name would produce, given the Data of its
inputs.

Where docs/output.md leaves a value open (the elements an unknown input
contributes to ``Output.all`` or ``from_input``), the Data says so with
``fixed=False`` and only its facts are compared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from outrun import UNKNOWN

# What a rejected Output may hold: the exception's type and its message,
# or None for "any message".
Error = tuple[type, str | None]


@dataclass(frozen=True)
class Data:
    """What an Output settles to, or the exceptions it may be rejected with
    (any one of errors: when two inputs fail, whichever fails first wins)."""

    value: Any = None
    known: bool = True
    secret: bool = False
    deps: frozenset[Any] = frozenset()
    errors: tuple[Error, ...] = ()
    fixed: bool = True

    @property
    def rejected(self) -> bool:
        return bool(self.errors)


def contains_unknowns(value: Any) -> bool:
    """True if value is UNKNOWN or holds it in a dict value or a list
    element, at any depth (tuples, dict keys and objects are not looked
    into)."""
    seen: set[int] = set()
    stack = [value]
    while stack:
        v = stack.pop()
        if v is UNKNOWN:
            return True
        if isinstance(v, (dict, list)):
            if id(v) in seen:
                continue
            seen.add(id(v))
            stack.extend(v.values() if isinstance(v, dict) else v)
    return False


def normal(data: Data) -> Data:
    """A value that contains UNKNOWN is unknown."""
    if data.known and not data.rejected and contains_unknowns(data.value):
        return replace(data, known=False)
    return data


def resolved(value: Any, known: bool = True, secret: bool = False,
             deps: Iterable[Any] = ()) -> Data:
    """Output._pending()._resolve(value, known, secret, deps)."""
    return normal(Data(value, known, secret, frozenset(deps)))


def rejected(*errors: BaseException | Error) -> Data:
    """An Output rejected with one of errors."""
    out: list[Error] = []
    for e in errors:
        out.append((type(e), str(e)) if isinstance(e, BaseException) else e)
    return Data(errors=tuple(dict.fromkeys(out)))


def _failed(inputs: Iterable[Data]) -> Data | None:
    errors = [e for d in inputs for e in d.errors]
    return Data(errors=tuple(dict.fromkeys(errors))) if errors else None


# What a function given to apply returned, in the model's terms ------------


@dataclass(frozen=True)
class Plain:
    """fn returned a value that is neither an Output nor an awaitable."""

    value: Any


@dataclass(frozen=True)
class AsOutput:
    """fn returned an Output that settles to data."""

    data: Data


@dataclass(frozen=True)
class Awaited:
    """fn returned an awaitable whose result is value."""

    value: Any


Returned = Plain | AsOutput | Awaited


def apply(src: Data, fn: Callable[[Any], Returned],
          run_with_unknowns: bool = False) -> Data:
    """src.apply(fn, run_with_unknowns): both tables of docs/output.md.

    fn must not depend on which value it gets for an unknown source whose
    value is not fixed (the model passes UNKNOWN then)."""
    if src.rejected:
        return Data(errors=src.errors)
    if not src.known and not run_with_unknowns:
        return Data(None, False, src.secret, src.deps)
    if src.known or (src.fixed and contains_unknowns(src.value)):
        arg = src.value
    else:
        arg = UNKNOWN
    try:
        returned = fn(arg)
    except Exception as exc:  # noqa: BLE001 - the model of a rejection
        return rejected(exc)
    if isinstance(returned, AsOutput):
        out = returned.data
        if out.rejected:
            return Data(errors=out.errors)
        return normal(Data(out.value, out.known, out.secret or src.secret,
                           src.deps | out.deps, fixed=out.fixed))
    return normal(Data(returned.value, True, src.secret, src.deps))


def lift(src: Data, get: Callable[[Any], Any]) -> Data:
    """o.name / o[key]: apply(get) run with unknowns, an unknown source
    giving UNKNOWN."""
    return apply(src, lambda v: Plain(UNKNOWN if v is UNKNOWN else get(v)),
                 run_with_unknowns=True)


def _combine(inputs: list[Data], value: Any) -> Data:
    known = all(d.known for d in inputs)
    return normal(Data(
        value if known else None,
        known,
        any(d.secret for d in inputs),
        frozenset().union(*(d.deps for d in inputs)),
        fixed=known and all(d.fixed for d in inputs)))


def all_(*args: Data, **kwargs: Data) -> Data:
    """Output.all(*args) or Output.all(**kwargs), inputs already through
    from_input."""
    if args and kwargs:
        raise ValueError("Output.all() takes positional or keyword inputs")
    inputs = list(args) + list(kwargs.values())
    failed = _failed(inputs)
    if failed:
        return failed
    if kwargs:
        value: Any = {k: d.value for k, d in kwargs.items()}
    else:
        value = [d.value for d in args]
    return _combine(inputs, value)


def concat(*parts: Data) -> Data:
    """Output.concat(*parts), parts already through from_input."""
    failed = _failed(parts)
    if failed:
        return failed
    if not all(d.known for d in parts):
        return Data(None, False, any(d.secret for d in parts),
                    frozenset().union(*(d.deps for d in parts)))
    if not all(isinstance(d.value, str) for d in parts):
        return rejected((TypeError, None))
    return _combine(list(parts), "".join(d.value for d in parts))


def format_(fmt: str, *args: Data, **kwargs: Data) -> Data:
    """Output.format(fmt, *args, **kwargs), inputs through from_input."""
    inputs = list(args) + list(kwargs.values())
    failed = _failed(inputs)
    if failed:
        return failed
    secret = any(d.secret for d in inputs)
    deps = frozenset().union(*(d.deps for d in inputs))
    if not all(d.known for d in inputs) or any(
            contains_unknowns(d.value) for d in inputs):
        return Data(UNKNOWN, False, secret, deps)
    try:
        text = fmt.format(*(d.value for d in args),
                          **{k: d.value for k, d in kwargs.items()})
    except Exception as exc:  # noqa: BLE001 - the model of a rejection
        return rejected(exc)
    return Data(text, True, secret, deps)


# from_input: structures of Data leaves --------------------------------------


@dataclass(frozen=True)
class Leaf:
    """An Output (or awaitable) inside a structure given to from_input."""

    data: Data


def from_input(x: Any) -> Data:
    """Output.from_input(x) where the Outputs and awaitables in x are
    Leaf objects."""
    if isinstance(x, Leaf):
        return x.data
    leaves: list[Data] = []

    def walk(v: Any) -> Any:
        if isinstance(v, Leaf):
            leaves.append(v.data)
            return v.data.value
        if isinstance(v, Mapping) and v:
            return {k: walk(item) for k, item in v.items()}
        if isinstance(v, list):
            return [walk(item) for item in v]
        if isinstance(v, tuple):
            return tuple(walk(item) for item in v)
        return v

    value = walk(x)
    failed = _failed(leaves)
    if failed:
        return failed
    return _combine(leaves, value)


def secret(d: Data) -> Data:
    """Output.secret(o)."""
    return d if d.rejected else replace(d, secret=True)


def unsecret(d: Data) -> Data:
    """Output.unsecret(o)."""
    return d if d.rejected else replace(d, secret=False)


def recover(d: Data, fn: Callable[[Error], Any]) -> Data:
    """o.recover(fn) where fn's plain result goes through from_input; only
    Exceptions are recovered."""
    if not d.rejected:
        return d
    if not all(issubclass(t, Exception) for t, _ in d.errors):
        return d
    try:
        return from_input(fn(d.errors[0]))
    except Exception as exc:  # noqa: BLE001 - the model of a rejection
        return rejected(exc)
