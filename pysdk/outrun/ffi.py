"""Foreign C calls on native threads: ``outrun.ffi``.

    libm = outrun.ffi.load("m")
    cos = libm.function("cos", "double", ["double"])
    cos(0.5)            # an Output, computed on a worker thread
    cos.call(0.5)       # here and now, with the GIL released

    libc = outrun.ffi.load("c")
    libc.cdef("unsigned int sleep(unsigned int); size_t strlen(const char *);")
    libc.sleep(1)       # an Output; the loop goes on meanwhile

Arguments are converted and checked before the call is queued: a wrong
type is a TypeError naming the argument and its declared type, a value out
of range an OverflowError.  A ``str`` for ``char*`` is passed as UTF-8; a
writable buffer (bytearray) is held until the call is done and may be
written by the callee; read-only bytes are accepted only where the
declaration says ``const``.  Outputs may be passed: the call waits for
them.

Failure conventions (``fail=``), each turning ``errno`` into ``OSError``:
``"negative"`` (a result below 0), ``"minus_one"`` (-1), ``"null"`` (a NULL
pointer), ``"zero"`` (0 or false).  With ``errno=True`` and no ``fail``,
the result is ``(value, errno)``.
"""

from __future__ import annotations

import ctypes.util
import os
from collections.abc import Sequence
from typing import Any

import _outrun
from _outrun import Output

__all__ = ["Function", "Library", "load"]

_FAILS = {None: 0, "negative": 1, "minus_one": 2, "null": 3, "zero": 4}

# Type names the ffi API accepts beyond C's own spellings.
_ALIASES = {
    **{f"int{n}": f"int{n}_t" for n in (8, 16, 32, 64)},
    **{f"uint{n}": f"uint{n}_t" for n in (8, 16, 32, 64)},
    "pointer": "void *",
    "buffer": "unsigned char *",
    "const buffer": "const unsigned char *",
    "char*": "char *",
    "string": "char *",
}


def _parse_types(name: str, restype: str, argtypes: Sequence[str],
                 ) -> tuple[int, tuple[int, ...]]:
    """Reads the type names through the cdef parser, so both take the same
    spellings."""
    def spell(t: str) -> str:
        if not isinstance(t, str):
            raise TypeError(f"{name}: types are names such as 'int' or "
                            f"'double', not {type(t).__name__}")
        return _ALIASES.get(t.strip(), t)

    params = ", ".join(spell(t) for t in argtypes) or "void"
    decl = f"{spell(restype)} f({params});"
    try:
        ((_, res, args),) = _outrun.cdef_parse(decl)
    except ValueError as exc:
        raise ValueError(f"{name}: cannot read the types "
                         f"{restype!r} / {list(argtypes)!r}: {exc}") from None
    return res, args


class Function:
    """A declared C function.  Calling it returns an Output resolved from a
    worker thread; :meth:`call` calls it on this thread with the GIL
    released."""

    def __init__(self, native: Any) -> None:
        self._native = native
        self.__name__ = native.__name__

    def __call__(self, *args: Any) -> Output[Any]:
        if any(isinstance(a, Output) for a in args):
            return Output.all(*args).apply(
                lambda values: self._native(*values))
        return self._native(*args)

    def call(self, *args: Any) -> Any:
        """Calls the function here and now, with the GIL released around
        it; an argument that is a resolved Output is passed as its value."""
        plain = []
        for a in args:
            if isinstance(a, Output):
                state, value, *_ = a._peek()
                if state != "resolved":
                    raise ValueError(
                        f"{self.__name__}.call(): an argument is an Output "
                        f"that is {state}; call {self.__name__}(...) "
                        f"instead, which waits for it")
                a = value
            plain.append(a)
        return self._native.call(*plain)

    def __repr__(self) -> str:
        return f"<outrun.ffi function {self.__name__}>"


class Library:
    """A shared library opened with :func:`load`."""

    def __init__(self, path: str | None, handle: int) -> None:
        self.path = path
        self._handle = handle

    def _address(self, name: str) -> int:
        addr = _outrun.ffi_dlsym(self._handle, name)
        if addr is None:
            raise AttributeError(
                f"{self.path or 'the program'} has no symbol {name!r}")
        return addr

    def function(self, name: str, restype: str, argtypes: Sequence[str],
                 *, errno: bool = False, fail: str | None = None,
                 ) -> Function:
        """Declares ``name`` with its result and argument types."""
        if fail not in _FAILS:
            raise ValueError(f"fail must be one of "
                             f"{', '.join(repr(k) for k in _FAILS)}")
        res, args = _parse_types(name, restype, argtypes)
        native = _outrun.FfiFunction(self, self._address(name), name, res,
                                     args, errno or fail is not None,
                                     _FAILS[fail])
        return Function(native)

    def cdef(self, source: str, *, errno: bool = False,
             fail: str | None = None) -> None:
        """Declares every function in C declarations; each becomes an
        attribute (``lib.cos``)."""
        if fail not in _FAILS:
            raise ValueError(f"fail must be one of "
                             f"{', '.join(repr(k) for k in _FAILS)}")
        for name, res, args in _outrun.cdef_parse(source):
            native = _outrun.FfiFunction(self, self._address(name), name,
                                         res, args,
                                         errno or fail is not None,
                                         _FAILS[fail])
            setattr(self, name, Function(native))

    def __repr__(self) -> str:
        return f"<outrun.ffi library {self.path or '(the program)'}>"


def load(name_or_path: str | os.PathLike[str] | None) -> Library:
    """Opens a shared library: a path, a file name such as
    ``"libm.so.6"``, or a bare name such as ``"m"`` found the usual way.
    ``None`` is the program itself.  ``OSError`` with the loader's message
    when it cannot."""
    if name_or_path is None:
        return Library(None, _outrun.ffi_dlopen(None))
    path = os.fspath(name_or_path)
    try:
        return Library(path, _outrun.ffi_dlopen(path))
    except OSError:
        if os.sep in path or path.startswith("lib"):
            raise
        found = ctypes.util.find_library(path)
        if found is None:
            raise
        return Library(found, _outrun.ffi_dlopen(found))
