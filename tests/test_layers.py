"""The package's import graph: no circle, and no import from a lower layer to a higher one.

Every ``from .x import`` and ``from senet_infer.x import`` counts, lazy ones inside functions included.
A new module goes into one layer here; a test failure names the import that breaks the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

from conftest import REPO

PACKAGE = REPO / "senet_infer"
# Lower layers never import higher ones. base: shared contracts and helpers; steps: one module per guide step
# or tool (they may use each other, never the driver); driver: run_infer.sh's engine and toolchains.
LAYERS: Dict[str, Set[str]] = {
    "base": {"__init__", "errors", "compat", "cli", "fileio", "imagenet", "labels", "precision", "summary",
             "agreement", "synthetic", "report", "workdir"},
    "steps": {"aipp", "preprocess", "model", "export", "convert", "quantize", "backends", "runner", "metric",
              "imagenet_prep", "atc", "fidelity"},
    "driver": {"toolchain", "pipeline"},
}
ORDER = list(LAYERS)


def _module_files() -> Dict[str, Path]:
    return {path.stem: path for path in PACKAGE.glob("*.py")}


def _imports(path: Path, modules: Set[str]) -> Set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 1:
            names = [node.module.split(".")[0]] if node.module else [alias.name for alias in node.names]
        elif node.level == 0 and node.module and node.module.split(".")[0] == "senet_infer":
            parts = node.module.split(".")
            names = [parts[1]] if len(parts) > 1 else [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found - {path.stem}


def _graph() -> Dict[str, Set[str]]:
    files = _module_files()
    return {name: _imports(path, set(files)) for name, path in files.items()}


def test_every_module_has_a_layer() -> None:
    placed = set().union(*LAYERS.values())
    assert set(_module_files()) - placed == set(), "put the new module into LAYERS"
    assert placed - set(_module_files()) == set(), "LAYERS names a module that is gone"


def test_no_import_goes_up_a_layer() -> None:
    layer_of = {module: ORDER.index(layer) for layer, modules in LAYERS.items() for module in modules}
    upward = [f"{module} ({ORDER[layer_of[module]]}) imports {target} ({ORDER[layer_of[target]]})"
              for module, targets in sorted(_graph().items()) for target in sorted(targets)
              if layer_of[target] > layer_of[module]]
    assert upward == []


def test_no_import_circle() -> None:
    graph = _graph()
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    circles: List[str] = []

    def visit(module: str, path: List[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []
