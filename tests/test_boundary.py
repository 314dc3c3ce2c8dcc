"""The house's walls, read from the import graph of the source (every import, also those inside functions).

- ``inference`` never imports the web app or its frameworks.
- One door: of ``alllab``, only ``alllab.analysis`` imports ``inference``.
- The apps of ``alllab`` stand in layers and import only downwards (ARCHITECTURE.md); ``dashboard`` and ``health``
  may read any app, and no app imports them. The project's shared modules (settings, env, security, files, celery)
  import no app; only the URL and WSGI roots sit above everything.
- No module imports itself back through others: the graph has no cycle.

An import inside a function counts like one at the top: moving an import into a function to dodge a cycle or a
layer would still be caught here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INFERENCE = ROOT / "inference"
FORBIDDEN = ("django", "rest_framework", "celery", "kombu", "alllab")

# Lowest first: an app may import only apps at or below its own place.
LAYERS = ("accounts", "cases", "labmodels", "analysis", "review", "adapt", "interop", "api")
READERS = ("dashboard", "health")  # may read any app in LAYERS; nothing imports them
SHARED = ("__init__", "settings", "env", "security", "files", "celery", "apps")  # below every app
ROOTS = ("urls", "wsgi")  # above everything
THE_DOOR = "analysis"  # the one app that imports inference


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module ``source`` imports, at any depth (functions, methods, ``if TYPE_CHECKING`` blocks)."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # ``from a.b import c`` may name the module a.b.c: keep both; ``resolve`` drops what is not a module.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def import_graph(package: str = "alllab") -> dict[str, set[str]]:
    """Modules of ``package`` -> the modules (of any package) they import, resolved to real files where local."""
    paths = {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}
    graph = {}
    for module, path in paths.items():
        raw = imports_of(path.read_text(), module, is_package=path.name == "__init__.py")
        resolved = set()
        for name in raw:
            if name.split(".")[0] != package or name in paths:
                resolved.add(name)
        graph[module] = resolved - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (a path that comes back to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def place(module: str) -> str:
    """``alllab.cases.services`` -> ``cases``; a project module -> its own name (``settings``, ``urls``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def allowed(src: str, dst: str) -> bool:
    """May code in place ``src`` import place ``dst``?"""
    if src == dst or src in ROOTS:
        return True
    if dst in ROOTS or dst in READERS:
        return False
    if src in SHARED:
        return dst in SHARED
    if dst in SHARED:
        return True
    if src in READERS:
        return dst in LAYERS
    return LAYERS.index(dst) <= LAYERS.index(src)


GRAPH = import_graph()


@pytest.mark.parametrize("path", sorted(INFERENCE.rglob("*.py")), ids=lambda p: str(p.relative_to(INFERENCE)))
def test_it_keeps_inference_framework_free(path):
    imported = {name.split(".")[0] for name in imports_of(path.read_text(), module_name(path))}
    assert not imported.intersection(FORBIDDEN), f"{path} imports {imported.intersection(FORBIDDEN)}"


def test_it_knows_every_app():
    apps = {p.name for p in (ROOT / "alllab").iterdir() if (p / "__init__.py").exists()}
    assert apps == set(LAYERS) | set(READERS), "a new app needs its place in LAYERS (or READERS)"


def test_it_lets_only_analysis_import_inference():
    doors = sorted(
        f"{module} imports {name}"
        for module, names in GRAPH.items()
        for name in names
        if name.split(".")[0] == "inference" and place(module) != THE_DOOR
    )
    assert doors == []


def test_it_imports_only_downwards():
    against = sorted(
        f"{module} ({place(module)}) imports {name} ({place(name)})"
        for module, names in GRAPH.items()
        for name in names
        if name.split(".")[0] == "alllab" and not allowed(place(module), place(name))
    )
    assert against == []


def test_it_has_no_import_cycle():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH))


def test_it_sees_an_import_hidden_in_a_function():
    source = "import os\n\ndef f():\n    from alllab.api.views import common\n    from . import sibling\n"
    assert imports_of(source, "alllab.cases.services") >= {"os", "alllab.api.views.common", "alllab.cases.sibling"}
    assert not allowed("cases", "api") and not allowed("analysis", "dashboard") and allowed("dashboard", "cases")


def test_it_finds_a_cycle_through_several_modules():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
