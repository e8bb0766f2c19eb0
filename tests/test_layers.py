"""The package's import graph: no circle, and no import from a lower layer to a higher one; each package is a layer.

Every ``from .x import`` and ``from senet_infer.x import`` counts, lazy ones inside functions included.
A new module is in its package's layer; a new package goes into :data:`ORDER`; a test failure names the import
that breaks the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Optional, Set

from conftest import REPO

PACKAGE = REPO / "senet_infer"
# Shared contracts and helpers: every layer may use them, they use nothing above them.
BASE = {"__init__", "errors", "compat", "cli", "fileio", "imagenet", "labels", "precision", "summary", "agreement",
        "synthetic", "machine", "demo"}
# Every other module is in its package's layer (``infer.run`` in ``infer``; a top-level module is its own package).
# Lower layers never import higher ones, so two packages import each other only one way: a module of a package
# may use its own package and the layers below, never one above. A new package goes into this list.
ORDER = ["base", "aipp", "onnxgraph", "modelmeta", "atc", "backends", "infer", "preprocess", "model", "export",
         "quantize", "convert", "fidelity", "metric", "imagenet_prep", "driver", "classify", "report"]


def layer_of(module: str) -> str:
    """A module's layer: ``base``, or its package's (the first part of its dotted name)."""
    return "base" if module in BASE else module.split(".")[0]


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _module_files() -> Dict[str, Path]:
    return {_name(path): path for path in PACKAGE.rglob("*.py")}


def _known(dotted: str, modules: Set[str]) -> Optional[str]:
    """The longest module of the package that ``dotted`` (relative to the package) names or lies in."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def _imports(name: str, path: Path, modules: Set[str]) -> Set[str]:
    # the package a relative import starts from: the module's own for an __init__, its parent's otherwise
    own = name.split(".") if path.stem == "__init__" and name != "__init__" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level >= 1:
            base = own[:len(own) - (node.level - 1)] if node.level - 1 <= len(own) else []
        elif node.module and node.module.split(".")[0] == "senet_infer":
            base = []
        else:
            continue
        module = node.module or ""
        if node.level == 0:
            module = module.split(".", 1)[1] if "." in module else ""
        prefix = [part for part in base + module.split(".") if part]
        for alias in node.names:
            target = _known(".".join(prefix + [alias.name]), modules) or _known(".".join(prefix), modules)
            if target is None and not prefix:
                target = "__init__"
            if target is not None:
                found.add(target)
    return found - {name}


def _graph() -> Dict[str, Set[str]]:
    files = _module_files()
    return {name: _imports(name, path, set(files)) for name, path in files.items()}


def test_every_module_has_a_layer() -> None:
    modules = set(_module_files())
    assert {layer_of(m) for m in modules} - set(ORDER) == set(), "put the new package into ORDER"
    assert set(ORDER) - {layer_of(m) for m in modules} == set(), "ORDER names a package that is gone"
    assert BASE - modules == set(), "BASE names a module that is gone"


def test_no_import_goes_up_a_layer() -> None:
    rank = {layer: index for index, layer in enumerate(ORDER)}
    upward = [f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})"
              for module, targets in sorted(_graph().items()) for target in sorted(targets)
              if rank[layer_of(target)] > rank[layer_of(module)]]
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
