"""The _outrun extension module: its version and its type stub."""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

import _outrun
import outrun
import pytest

SOURCE_DIR = Path(os.environ.get("OUTRUN_SOURCE_DIR",
                                 Path(__file__).resolve().parents[2]))
STUB = SOURCE_DIR / "bindings" / "_outrun.pyi"
# The host's own module's stub (runtime/host.c builds the module in).
HOST_STUB = SOURCE_DIR / "typings" / "_outrun_host.pyi"

# What every module has, whether or not its stub names it.
MODULE_ATTRIBUTES = {"__doc__", "__file__", "__loader__", "__name__",
                     "__package__", "__spec__"}


def _stub_names(stub: Path = STUB) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(stub.read_text()).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target,
                                                          ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets
                         if isinstance(t, ast.Name))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                               ast.ClassDef)):
            names.add(node.name)
    # Private names (_T, _Input) are the stub's own typing helpers.
    return {n for n in names if n.startswith("__") or not n.startswith("_")}


def test_version_is_the_sdk_version():
    assert _outrun.__version__ == outrun.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", _outrun.__version__)


def test_built_for_this_python():
    major_minor = ".".join(_outrun.built_for_python.split(".")[:2])
    assert major_minor == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_stub_names_exactly_what_the_module_has():
    # _testing_* functions are fault injection for the tests, no API.
    module_names = {n for n in vars(_outrun)
                    if not n.startswith("_testing_")} - MODULE_ATTRIBUTES

    assert _stub_names() == module_names


def test_host_stub_names_exactly_what_the_host_module_has():
    if "_outrun_host" not in sys.builtin_module_names:
        pytest.skip("_outrun_host exists only inside the host")
    import _outrun_host

    module_names = set(vars(_outrun_host)) - MODULE_ATTRIBUTES
    assert _stub_names(HOST_STUB) == module_names


def test_builtin_inside_the_host_an_extension_outside():
    if "_outrun_host" in sys.builtin_module_names:
        assert _outrun.__spec__.origin == "built-in"
        assert not hasattr(_outrun, "__file__")
    else:
        assert _outrun.__file__.endswith(".so")


def test_the_resource_model_loads_on_first_use():
    # A fresh import of the package, in this process: what the first
    # `import outrun` of a program does.
    saved = {name: mod for name, mod in sys.modules.items()
             if name == "outrun" or name.startswith("outrun.")}
    for name in saved:
        del sys.modules[name]
    try:
        import outrun as fresh

        before = "outrun.resource" in sys.modules
        cls = fresh.Resource
        after = "outrun.resource" in sys.modules
    finally:
        for name in [n for n in sys.modules
                     if n == "outrun" or n.startswith("outrun.")]:
            del sys.modules[name]
        sys.modules.update(saved)

    assert (before, after, cls.__name__) == (False, True, "Resource")
