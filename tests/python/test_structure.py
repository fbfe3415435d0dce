"""The one-way doors of the code's layout, checked on the source tree:

- the resource model (every module of the SDK but the engine, the CLI and
  host entry and the benchmarks) never imports the engine
  (outrun._engine); it reaches the run only through outrun._monitor;
- the SDK (pysdk/outrun) has no import cycle, counting every import:
  module-level and function-local, but not those under `if TYPE_CHECKING:`;
- the extension module `_outrun` (bindings/) never imports the SDK above
  it: `import _outrun` works with only the extension on the path.

Each checker is a plain function over a directory, tested below on small
trees made for the purpose, so that each can be seen to fail."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("OUTRUN_SOURCE_DIR",
                                 Path(__file__).resolve().parents[2]))
SDK_DIR = SOURCE_DIR / "pysdk" / "outrun"
BINDINGS_DIR = SOURCE_DIR / "bindings"

# The engine, and the modules that may use it: whatever drives a run from
# the command line (host entry, CLI dispatch, the engine's commands) and
# the benchmarks, which time the engine.  Every other module of the SDK is
# the model side and must not import the engine.  A name here covers the
# module and everything under it.
ENGINE = "outrun._engine"
ENGINE_USERS = ("outrun._engine", "outrun._cli", "outrun._host",
                "outrun.bench")


# ---------------------------------------------------------------------------
# The SDK's import graph

@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool


@dataclass(frozen=True)
class Import:
    """One import statement's edge: source imports target, at path:line."""
    source: str
    target: str
    path: Path
    line: int

    def where(self) -> str:
        return f"{_shown(self.path)}:{self.line}"


def _shown(path: Path) -> str:
    """path from the source tree's top when it is inside it."""
    try:
        return str(path.relative_to(SOURCE_DIR))
    except ValueError:
        return str(path)


def find_modules(package_dir: Path, package: str) -> dict[str, Module]:
    """Every module of the package in package_dir, by dotted name."""
    modules: dict[str, Module] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        if "__pycache__" in parts:
            continue
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        name = ".".join([package, *parts])
        modules[name] = Module(name, path, is_package)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
            or isinstance(test, ast.Attribute)
            and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under node, except the bodies of `if TYPE_CHECKING:`
    (their else branches are run, so they are walked)."""
    for child in ast.iter_child_nodes(node):
        yield child
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.orelse:
                yield stmt
                yield from _walk(stmt)
            continue
        yield from _walk(child)


def _import_call(node: ast.AST) -> str | None:
    """The module named by importlib.import_module("x") or
    __import__("x") with a literal name, else None."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func, arg = node.func, node.args[0]
    name = (func.attr if isinstance(func, ast.Attribute)
            else func.id if isinstance(func, ast.Name) else None)
    if name not in ("import_module", "__import__"):
        return None
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return None


def _known(name: str, modules: dict[str, Module]) -> str | None:
    """name if it is a module of the package, else its longest prefix that
    is (a name inside a module), else None (outside the package)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: Module, modules: dict[str, Module]) -> list[Import]:
    """The modules of the package that module imports, each with where.
    `from p import x` is an import of p.x when that is a module, else of
    p; `import p.q` is one of p.q.  Relative imports are resolved."""
    tree = ast.parse(module.path.read_text(encoding="utf-8"),
                     filename=str(module.path))
    here = module.name if module.is_package else module.name.rpartition(
        ".")[0]
    found: list[Import] = []

    def add(name: str | None, node: ast.AST) -> None:
        target = _known(name, modules) if name else None
        if target is None or target == module.name:
            return
        imp = Import(module.name, target, module.path,
                     getattr(node, "lineno", 0))
        if imp not in found:     # `from p import a, b`: one edge to p
            found.append(imp)

    for node in _walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = here.split(".")
                base_parts = base_parts[:len(base_parts) - node.level + 1]
                base = ".".join(base_parts)
                if node.module:
                    base = f"{base}.{node.module}" if base else node.module
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                add(sub if sub in modules else base, node)
        else:
            add(_import_call(node), node)
    return found


def import_graph(package_dir: Path, package: str) -> dict[str, list[Import]]:
    """module -> its imports of the package's modules."""
    modules = find_modules(package_dir, package)
    return {name: imports_of(m, modules) for name, m in modules.items()}


def _covers(prefixes: Iterable[str], name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def engine_imports(graph: dict[str, list[Import]], engine: str = ENGINE,
                   users: Iterable[str] = ENGINE_USERS) -> list[str]:
    """Each import of the engine (or anything under it) by a module that
    is not one of its users, as a readable line."""
    users = tuple(users)
    return [f"{imp.source} imports {imp.target} ({imp.where()})"
            for name, imps in sorted(graph.items())
            if not _covers(users, name)
            for imp in imps if _covers([engine], imp.target)]


def _strongly_connected(graph: dict[str, list[Import]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted({i.target for i in graph[root]})))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in graph:
                    continue
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(
                        {i.target for i in graph[target]}))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def _shortest_cycle(graph: dict[str, list[Import]], start: str,
                    within: set[str]) -> list[Import]:
    """The shortest path of imports from start back to start, inside
    within (a strongly connected component holding start)."""
    previous: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for imp in sorted(graph[node], key=lambda i: (i.target, i.line)):
                if imp.target not in within or imp.target in previous:
                    continue
                previous[imp.target] = imp
                if imp.target == start:
                    path = [imp]
                    while path[0].source != start:
                        path.insert(0, previous[path[0].source])
                    return path
                following.append(imp.target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def import_cycles(graph: dict[str, list[Import]]) -> list[str]:
    """One cycle of each tangle of modules that import each other, as a
    readable path: a -> b (where) -> ... -> a (where)."""
    cycles = []
    for component in sorted(_strongly_connected(graph)):
        if len(component) == 1:
            continue   # imports of a module by itself are not recorded
        cycle = _shortest_cycle(graph, component[0], set(component))
        steps = [cycle[0].source] + [f"{imp.target} ({imp.where()})"
                                     for imp in cycle]
        line = " -> ".join(steps)
        others = sorted(set(component) - {imp.source for imp in cycle})
        if others:
            line += f"; the tangle also holds {', '.join(others)}"
        cycles.append(line)
    return cycles


# ---------------------------------------------------------------------------
# The extension's C sources

_C_TOKEN = re.compile(
    r'(?P<string>"(?:\\.|[^"\\\n])*")'
    r"|(?P<char>'(?:\\.|[^'\\\n])*')"
    r"|(?P<comment>/\*.*?\*/|//[^\n]*)"
    r"|(?P<space>\s+)"
    r"|(?P<other>[^\"'/\s]+|/)", re.S)

# A C string literal that names the package or one of its modules.
_SDK_NAME = re.compile(r'"outrun(?:\.[A-Za-z_]\w*)*(?:\.)?"')
# Python source inside a C string (PyRun_String and friends).
_SDK_SOURCE = re.compile(r'(?:^|[\s;"])(?:import|from)\s+outrun\b')
# A call of anything named like an import (PyImport_ImportModule,
# PyImport_ImportModuleLevel, PyCapsule_Import, a helper such as
# import_attr) or making the name object PyImport_Import takes.
_IMPORT_CALL = r"\b(\w*[Ii]mport\w*|PyUnicode_\w*FromString)\s*\(\s*"


def _c_text(source: str) -> str:
    """The C source with comments blanked and adjacent string literals
    joined, as the compiler joins them; every line stays on its line
    number (the newlines between joined literals follow the result)."""
    out: list[str] = []
    after_string = False    # only blanks since the last literal in out
    held = ""               # those blanks
    carried = ""            # newlines of blanks joined literals dropped
    for m in _C_TOKEN.finditer(source):
        kind, text = m.lastgroup, m.group()
        if kind == "comment":
            kind, text = "space", re.sub(r"[^\n]", " ", text)
        if kind == "space":
            held += text
            continue
        if kind == "string" and after_string:
            out[-1] = out[-1][:-1] + text[1:]
            carried += re.sub(r"[^\n]", "", held)
        else:
            out += [carried, held, text]
            carried = ""
            after_string = kind == "string"
        held = ""
    out += [carried, held]
    return "".join(out)


def sdk_imports_in_c(directory: Path) -> list[str]:
    """Each place a .c or .h file in directory imports the SDK (package
    outrun): an import call whose first argument is the package's or one
    of its modules' name (a literal, or a macro or constant defined as
    one), or Python source importing it, as a readable line."""
    found = []
    for path in sorted([*directory.glob("*.c"), *directory.glob("*.h")]):
        text = _c_text(path.read_text(encoding="utf-8", errors="replace"))
        names = [m.group(1) for m in re.finditer(
            r"#\s*define\s+(\w+)\s+" + _SDK_NAME.pattern, text)]
        names += [m.group(1) for m in re.finditer(
            r"(\w+)\s*(?:\[\s*\])?\s*=\s*" + _SDK_NAME.pattern, text)]
        args = [_SDK_NAME.pattern] + [rf"{re.escape(n)}\b" for n in names]
        call = re.compile(_IMPORT_CALL + "(?:" + "|".join(args) + ")")
        hits = list(call.finditer(text))
        hits += [m for m in re.finditer(r'"(?:\\.|[^"\\\n])*"', text)
                 if _SDK_SOURCE.search(m.group())]
        for m in hits:
            line = text.count("\n", 0, m.start()) + 1
            found.append(f"{_shown(path)}:{line}: {m.group()}")
    return found


# ---------------------------------------------------------------------------
# The checks on this source tree

def test_the_model_does_not_import_the_engine():
    graph = import_graph(SDK_DIR, "outrun")
    assert "outrun.resource" in graph and ENGINE in graph
    found = engine_imports(graph)
    assert not found, ("modules of the model import the engine (they reach "
                       "the run through outrun._monitor):\n  "
                       + "\n  ".join(found))


def test_the_sdk_has_no_import_cycle():
    graph = import_graph(SDK_DIR, "outrun")
    cycles = import_cycles(graph)
    assert not cycles, "import cycles in the SDK:\n  " + "\n  ".join(cycles)


def test_the_extension_does_not_import_the_sdk():
    assert list(BINDINGS_DIR.glob("*.c"))
    found = sdk_imports_in_c(BINDINGS_DIR)
    assert not found, ("bindings/ imports the SDK (_outrun must stand "
                       "alone):\n  " + "\n  ".join(found))


# ---------------------------------------------------------------------------
# The checkers fail when they should

def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _fake_sdk(root: Path, files: dict[str, str]) -> dict[str, list[Import]]:
    """The import graph of a package outrun made of an empty engine, an
    empty _monitor and bench, and files (path in the package -> text)."""
    _tree(root / "outrun", {
        "__init__.py": "", "_engine/__init__.py": "",
        "_engine/deployment.py": "", "_monitor.py": "",
        "bench/__init__.py": "", **files})
    return import_graph(root / "outrun", "outrun")


def test_find_modules_names_packages_and_modules(tmp_path):
    _tree(tmp_path, {"__init__.py": "", "a.py": "", "sub/__init__.py": "",
                     "sub/b.py": "", "__pycache__/c.py": ""})
    modules = find_modules(tmp_path, "outrun")
    assert sorted(modules) == ["outrun", "outrun.a", "outrun.sub",
                               "outrun.sub.b"]
    assert modules["outrun.sub"].is_package
    assert not modules["outrun.sub.b"].is_package


def test_imports_of_every_form_resolved_to_modules(tmp_path):
    _tree(tmp_path, {
        "__init__.py": "", "a.py": "", "c.py": "", "d.py": "", "e.py": "",
        "f.py": "", "g.py": "", "h.py": "",
        "sub/__init__.py": "", "sub/x.py": "",
        "sub/b.py": (
            "import os\n"
            "import outrun.a\n"                  # 2: outrun.a
            "from outrun import c, Name\n"       # 3: outrun.c, outrun
            "from . import x\n"                  # 4: outrun.sub.x
            "from .. import d\n"                 # 5: outrun.d
            "from ..e import thing\n"            # 6: outrun.e
            "def f():\n"
            "    from outrun import f\n"         # 8: outrun.f (local)
            "    import importlib\n"
            "    importlib.import_module('outrun.g')\n"  # 10
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from outrun import h\n"         # skipped
            "else:\n"
            "    from outrun import h\n"         # 15: outrun.h
            "from outrun.sub.b import self_ref\n"  # itself: not recorded
        ),
    })
    modules = find_modules(tmp_path, "outrun")
    got = [(i.target, i.line) for i in imports_of(modules["outrun.sub.b"],
                                                 modules)]
    assert got == [("outrun.a", 2), ("outrun.c", 3), ("outrun", 3),
                   ("outrun.sub.x", 4), ("outrun.d", 5), ("outrun.e", 6),
                   ("outrun.f", 8), ("outrun.g", 10), ("outrun.h", 15)]


def test_relative_import_from_a_package_init(tmp_path):
    _tree(tmp_path, {"__init__.py": "from . import a\nfrom .sub import b\n",
                     "a.py": "", "sub/__init__.py": "", "sub/b.py": ""})
    modules = find_modules(tmp_path, "outrun")
    got = [i.target for i in imports_of(modules["outrun"], modules)]
    assert got == ["outrun.a", "outrun.sub.b"]


def test_a_model_module_importing_the_engine_is_found(tmp_path):
    graph = _fake_sdk(tmp_path, {
        "resource.py": "from outrun import _monitor\n"
                       "def f():\n"
                       "    from outrun._engine import deployment\n",
        "config.py": "import outrun._engine\n",
        "providers/__init__.py": "",
        "providers/random.py": "from .._engine import x\n",
        "_cli.py": "from outrun._engine import deployment\n",
        "_engine/commands.py": "from outrun._engine import deployment\n",
        "bench/engine.py": "import outrun._engine.deployment\n",
    })
    found = engine_imports(graph)
    assert len(found) == 3, found
    assert found[0].startswith("outrun.config imports outrun._engine (")
    assert found[1].startswith(
        "outrun.providers.random imports outrun._engine (")
    assert found[2].startswith(
        "outrun.resource imports outrun._engine.deployment (")
    assert found[2].endswith("resource.py:3)")


def test_a_model_without_engine_imports_passes(tmp_path):
    graph = _fake_sdk(tmp_path, {
        "resource.py": "from outrun import _monitor\n",
        "_cli.py": "from outrun._engine import deployment\n",
    })
    assert engine_imports(graph) == []


def test_an_import_cycle_is_found_and_shown_as_a_path(tmp_path):
    graph = _fake_sdk(tmp_path, {
        "a.py": "from outrun import b\n",
        "b.py": "def f():\n    import outrun.c\n",
        "c.py": "from . import a\n",
        "d.py": "from outrun import a\n",     # into the cycle, not on it
        "e.py": "import outrun.f\n",
        "f.py": "import outrun.e\n",
    })
    cycles = import_cycles(graph)
    assert len(cycles) == 2, cycles
    assert re.fullmatch(
        r"outrun\.a -> outrun\.b \(\S+/a\.py:1\) -> "
        r"outrun\.c \(\S+/b\.py:2\) -> outrun\.a \(\S+/c\.py:1\)",
        cycles[0]), cycles[0]
    assert re.fullmatch(
        r"outrun\.e -> outrun\.f \(\S+\) -> outrun\.e \(\S+\)",
        cycles[1]), cycles[1]


def test_a_cycle_through_the_package_init_is_found(tmp_path):
    graph = _fake_sdk(tmp_path, {
        "__init__.py": "from outrun import a\n",
        "a.py": "from outrun import Name\n",
    })
    assert [c.split(" (")[0] for c in import_cycles(graph)] == [
        "outrun -> outrun.a"]


def test_imports_under_type_checking_make_no_cycle(tmp_path):
    graph = _fake_sdk(tmp_path, {
        "a.py": "from outrun import b\n",
        "b.py": "import typing\n"
                "if typing.TYPE_CHECKING:\n"
                "    from outrun import a\n",
    })
    assert import_cycles(graph) == []


def test_the_cycle_shown_is_a_shortest_one_of_a_larger_tangle(tmp_path):
    graph = _fake_sdk(tmp_path, {
        "a.py": "import outrun.b\nimport outrun.c\n",
        "b.py": "import outrun.a\n",
        "c.py": "import outrun.d\n",
        "d.py": "import outrun.a\n",
    })
    (cycle,) = import_cycles(graph)
    assert cycle.startswith("outrun.a -> outrun.b (")
    assert cycle.count(" -> ") == 2
    assert cycle.endswith("; the tangle also holds outrun.c, outrun.d")


def test_c_importing_the_sdk_is_found(tmp_path):
    _tree(tmp_path, {
        "a.c": 'st->m = PyImport_ImportModule("outrun._output_support");\n',
        "b.c": ('\n/* PyImport_ImportModule("outrun.x") in a comment */\n'
                'x = import_attr(\n    "outrun.process", "run");\n'),
        "c.h": '#define SUPPORT "outrun.y"\n'
               'm = PyImport_ImportModule(SUPPORT);\n',
        "d.c": 'PyRun_SimpleString("import sys; import outrun.z");\n'
               'n = PyUnicode_InternFromString("outrun" ".w");\n',
        "e.c": 'm = PyImport_ImportModule("outrun");\n'
               'c = PyCapsule_Import("outrun.cap", 0);\n',
    })
    found = sdk_imports_in_c(tmp_path)
    assert [f.split(": ", 1)[0].rsplit("/", 1)[1] for f in found] == [
        "a.c:1", "b.c:3", "c.h:2", "d.c:2", "d.c:1", "e.c:1", "e.c:2"]
    assert found[0].endswith('PyImport_ImportModule("outrun._output_support"')


def test_c_that_only_names_outrun_passes(tmp_path):
    _tree(tmp_path, {
        "ok.c": (
            '/* PyImport_ImportModule("outrun.x") is what we never do */\n'
            'p = PyCapsule_New(ref, "outrun.job_ref", destroy);\n'
            'if (strcmp(s, "outrun") == 0 || strncmp(s, "outrun.", 7))\n'
            '    ;\n'
            'm = PyImport_ImportModule("asyncio");\n'
            'm = PyImport_ImportModule("_outrun");\n'
            'w = PyUnicode_FromString("outrun: the loop is stuck");\n'
            'PyErr_SetString(PyExc_TypeError, "use outrun.run()");\n'),
    })
    assert sdk_imports_in_c(tmp_path) == []
