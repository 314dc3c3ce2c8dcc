"""The engine's two floors: the runtime a worker loads never imports the workshop (``inference.training``).

Every import counts, including those inside functions, so a lazy import cannot hide a dependency. The only
top-level modules allowed to reach the workshop are the command-line doors kept for labs and CI.
"""

import ast
from pathlib import Path

import inference

ROOT = Path(inference.__file__).resolve().parent
# ``python -m inference.<name>`` doors whose code lives in ``inference.training.<name>``.
ENTRY_POINTS = {
    "train",
    "evaluate",
    "crossval",
    "bench",
    "eval_segmentation",
    "eval_bccd",
    "fit_reference",
    "eval_domain",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports, anywhere in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)  # `from . import training` names a module too
    return found


def _engine_files() -> list[Path]:
    return [
        p
        for p in ROOT.rglob("*.py")
        if "training" not in p.relative_to(ROOT).parts[:1] and not (p.parent == ROOT and p.stem in ENTRY_POINTS)
    ]


def test_it_never_imports_the_workshop_from_the_engine():
    files = _engine_files()
    assert {"predict", "summary", "io", "preprocess", "types"} <= {p.stem for p in files}  # the walk saw the engine
    offenders = {
        _module_name(p): sorted(
            m for m in _imports(p) if m == "inference.training" or m.startswith("inference.training.")
        )
        for p in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_it_keeps_each_entry_point_a_door_to_its_own_workshop_module():
    for name in ENTRY_POINTS:
        path = ROOT / f"{name}.py"
        workshop = {m for m in _imports(path) if m.startswith("inference")}
        assert workshop and all(m.startswith(f"inference.training.{name}") for m in workshop), (name, workshop)
        assert (ROOT / "training" / f"{name}.py").is_file()


def test_it_sees_a_hidden_workshop_import(tmp_path):
    # the checker itself must catch an import inside a function and a relative one
    fake = ROOT / "_layer_probe.py"
    fake.write_text("def f():\n    from .training import data\n")
    try:
        assert "inference.training" in _imports(fake) and "inference.training.data" in _imports(fake)
    finally:
        fake.unlink()
