"""The two wings stay apart: ``inference`` never imports the web app or its frameworks."""

import ast
from pathlib import Path

import pytest

FORBIDDEN = ("django", "rest_framework", "celery", "kombu", "alllab")
INFERENCE = Path(__file__).resolve().parent.parent / "inference"


@pytest.mark.parametrize("path", sorted(INFERENCE.rglob("*.py")), ids=lambda p: str(p.relative_to(INFERENCE)))
def test_it_keeps_inference_framework_free(path):
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported.intersection(FORBIDDEN), f"{path} imports {imported.intersection(FORBIDDEN)}"
