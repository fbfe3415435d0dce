"""Type stubs for Outrun's native core, the `_outrun` extension module."""

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar, overload

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)
_U = TypeVar("_U")

__version__: str
"""The Outrun version this module belongs to."""

built_for_python: str
"""The CPython version the module was compiled against, such as "3.11.7"."""

# The limits and defaults of a run (runtime/run_limits.h), defined once in C.
THREADS_DEFAULT: int
"""Native pool threads when neither --threads nor OUTRUN_THREADS says."""
THREADS_MAX: int
"""The most pool threads --threads and OUTRUN_THREADS accept."""
STALL_WARNING_DEFAULT_MS: float
"""The stall watchdog's threshold unless --stall-warning says otherwise."""
STALL_WARNING_MAX_MS: float
"""The largest --stall-warning, in milliseconds."""
DEBUG_PENDING_DEFAULT_S: float
"""Seconds without progress before --debug-pending reports."""
DEBUG_PENDING_MAX_S: float
"""The largest --debug-pending, in seconds."""
SHUTDOWN_GRACE_S: float
"""Seconds the host waits at exit for Python-callable jobs still running."""

class Unknown:
    """The type of UNKNOWN, which marks a value that is not known yet."""

UNKNOWN: Unknown

def contains_unknowns(value: object, /) -> bool: ...

_Input = _T | Awaitable[_T] | "Output[_T]"

class Output(Generic[_T_co]):
    """A value that may not be known yet, with whether it is known, whether
    it is secret, and the resources it depends on."""

    def apply(
        self,
        func: Callable[[_T_co], _Input[_U]],
        run_with_unknowns: bool = False,
    ) -> Output[_U]: ...
    def recover(self, func: Callable[[Exception], _Input[_U]]) -> Output[_T_co | _U]: ...
    def future(self, with_unknowns: bool = False) -> asyncio.Future[_T_co | None]: ...
    def is_known(self) -> asyncio.Future[bool]: ...
    def is_secret(self) -> asyncio.Future[bool]: ...
    def resources(self) -> asyncio.Future[set[Any]]: ...
    def get(self) -> _T_co: ...
    def __getattr__(self, name: str) -> Output[Any]: ...
    def __getitem__(self, key: Any) -> Output[Any]: ...
    @classmethod
    def from_input(cls, val: _Input[_T]) -> Output[_T]: ...
    @overload
    @classmethod
    def all(cls, *inputs: _Input[Any]) -> Output[list[Any]]: ...
    @overload
    @classmethod
    def all(cls, **inputs: _Input[Any]) -> Output[dict[str, Any]]: ...
    @classmethod
    def concat(cls, *parts: _Input[str]) -> Output[str]: ...
    @classmethod
    def format(
        cls, format_string: _Input[str], *args: _Input[Any], **kwargs: _Input[Any]
    ) -> Output[str]: ...
    @classmethod
    def json_dumps(cls, obj: _Input[Any], **json_kwargs: Any) -> Output[str]: ...
    @classmethod
    def json_loads(cls, s: _Input[str | bytes], **json_kwargs: Any) -> Output[Any]: ...
    @classmethod
    def secret(cls, val: _Input[_T]) -> Output[_T]: ...
    @classmethod
    def unsecret(cls, val: Output[_T]) -> Output[_T]: ...
    # The engine's interface.
    @classmethod
    def _pending(cls) -> Output[Any]: ...
    @classmethod
    def _resolved(
        cls, value: _T, known: bool = True, secret: bool = False, deps: Iterable[Any] = ()
    ) -> Output[_T]: ...
    def _resolve(
        self, value: Any, known: bool = True, secret: bool = False, deps: Iterable[Any] = ()
    ) -> None: ...
    def _reject(self, exception: BaseException | type[BaseException]) -> None: ...
    def _peek(self) -> tuple[str, Any, bool, bool, frozenset[Any] | None]: ...
    def _watch(self, callback: Callable[[Output[Any]], object], /) -> None: ...
    def _waits_on(self) -> list[Output[Any]] | None: ...

class Scheduler:
    """Runs the Output continuations of one event loop."""

    pending_count: int
    settled_count: int
    loop: asyncio.AbstractEventLoop
    collect_failures: bool
    record_sites: bool
    site_skip: tuple[str, ...] | None
    def wait_idle(self) -> asyncio.Future[None]: ...
    def take_failures(self) -> list[BaseException]: ...
    def report(self) -> str: ...

def scheduler() -> Scheduler: ...
def deferred_output() -> tuple[Output[Any], Callable[[Any], None]]: ...
def scan_inputs(props: dict[str, Any], /) -> list[tuple[str, Output[Any]]] | None: ...

class Watchdog:
    """The stall watchdog: warns on standard error while the thread that
    created it stays away from its event loop for longer than
    threshold_ms, naming the program's line (the innermost frame whose file
    is not under one of library_dirs) and what to use instead."""

    def __init__(self, threshold_ms: float, library_dirs: Iterable[str] = ()) -> None: ...
    @property
    def beat_interval_ms(self) -> float:
        """How often to call beat(): a quarter of the threshold."""
    @property
    def threshold_ms(self) -> float: ...
    def beat(self) -> None:
        """The loop thread is back in its loop; call from a loop callback."""
    def stop(self) -> tuple[int, float, float]:
        """Stops it; returns (stalls, total_ms, worst_ms)."""

# Native offload (bindings/offload.c; the pool's control in bindings/jobs.c;
# processes in bindings/process.c).
def offload(fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Output[_T]: ...
def to_thread(fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> asyncio.Future[_T]: ...
def call_into(future: asyncio.Future[_T], fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> asyncio.Future[_T]: ...
def configure_pool(threads: int, /) -> None: ...
def pool_stats() -> dict[str, int] | None: ...
def shutdown(grace: float = 5.0, /) -> int: ...
# For tests only: the next n thread states or job results fail to be made.
def _testing_fail(what: str, n: int, /) -> None: ...
def spawn(
    argv: Iterable[str | bytes],
    *,
    env: Any = None,
    cwd: Any = None,
    input: bytes | None = None,
    timeout: float | None = None,
    kill_grace: float = 2.0,
    on_output: Callable[[str, bytes], Any] | None = None,
) -> Output[dict[str, Any]]: ...
def cancel(output: Output[Any], /) -> bool: ...
def kill_processes() -> int: ...
def _testing_fd_waits() -> int: ...

# Foreign calls (bindings/ffi.c); use outrun.ffi.
class FfiFunction:
    """A C function prepared through libffi."""

    __name__: str
    def __init__(
        self,
        library: object,
        address: int,
        name: str,
        restype: int,
        argtypes: Iterable[int],
        errno: bool = False,
        fail: int = 0,
    ) -> None: ...
    def __call__(self, *args: Any) -> Output[Any]: ...
    def call(self, *args: Any) -> Any: ...

def ffi_dlopen(path: str | None, /) -> int: ...
def ffi_dlsym(handle: int, name: str, /) -> int | None: ...
def cdef_parse(source: str, /) -> list[tuple[str, int, tuple[int, ...]]]: ...
