"""The package's layers, checked on the source: `modeling` <- `processing` <- `training`, no import cycles, and
remote-code files that load from a Hub folder without this package.

Every import of the package (module level or inside a function, relative or absolute) is read with `ast`:
- a module may import its own layer and the layers below it (modeling 0, processing 1, training 2), never above;
- inside `training/`, the sub-packages `data/`, `evaluation/` and `publishing/` do not import each other (publishing
  may use the training recipes, `training/recipe.py`); the training command's modules at `training/` use them all;
- the graph of imports between the package's modules has no cycle;
- the remote-code files (every file of `modeling/`, and in `processing/` the video processor and the pipeline with
  the flat sibling files they import) import at module level only the standard library, torch, torchvision,
  transformers and what transformers itself requires (numpy, huggingface_hub), and their siblings in the same folder
  by relative import: a Hub folder is flat and this package is not installed there. PyAV (`av`) and PIL are
  allowed inside functions only (reading a video file needs them; building the model does not).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT

PACKAGE = "videomae_action_detection"
LAYERS = {"modeling": 0, "processing": 1, "training": 2}
REMOTE_CODE_ENTRY_FILES = ("processing/video_processing_videomae_action_detection.py",
                           "processing/pipeline_video_action_detection.py")
REMOTE_CODE_TOP_LEVEL = {"torch", "torchvision", "transformers", "numpy", "huggingface_hub"}
REMOTE_CODE_IN_FUNCTIONS = REMOTE_CODE_TOP_LEVEL | {"av", "PIL"}


def package_files() -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the three code folders."""
    files = {}
    for folder in LAYERS:
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join((PACKAGE,) + parts)] = path
    return files


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


class Import:
    """One imported name: `target` is the module it loads (a package-relative dotted name or a third-party top
    name), `line` where, `top_level` whether it runs at import time."""

    def __init__(self, target: str, line: int, top_level: bool, relative_level: int):
        self.target, self.line, self.top_level, self.relative_level = target, line, top_level, relative_level


def imports_of(module: str, path: Path, known: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if is_package(path) else module.rpartition(".")[0]
    # statements that run on import: module level, including under `if` / `try` and class bodies
    top_level_nodes = {id(child) for node in tree.body for child in _outside_functions(node)}
    found = []
    for node in ast.walk(tree):
        top = id(node) in top_level_nodes
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno, top, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source == "__future__":
                continue
            # `from pkg import name` loads pkg.name when that is a module
            names = [f"{source}.{alias.name}" for alias in node.names]
            modules = [name for name in names if name in known]
            found += [Import(target, node.lineno, top, node.level) for target in (modules or [source])]
    return found


def _outside_functions(node):
    """The nodes under `node` that are not inside a function or class body's function."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _outside_functions(child)


def is_package_module(module: str, graph) -> bool:
    """Whether `module` is a package (`__init__.py`): its submodules' names start with it."""
    return any(other.startswith(module + ".") for other in graph)


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 and parts[0] == PACKAGE else None


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Import]]:
    known = package_files()
    return {module: imports_of(module, path, known) for module, path in known.items()}


def test_no_module_imports_a_layer_above_its_own(graph):
    upward = [
        f"{module}:{item.line} imports {item.target}"
        for module, items in graph.items() for item in items
        if layer_of(item.target) is not None and layer_of(item.target) > layer_of(module)
    ]
    assert not upward, "imports pointing up the layers modeling <- processing <- training:\n" + "\n".join(upward)


TRAINING_SUBPACKAGES = ("data", "evaluation", "publishing")
# what each training sub-package may import from training/ besides itself
TRAINING_SUBPACKAGE_EXTRAS = {"data": (), "evaluation": (), "publishing": (f"{PACKAGE}.training.recipe",)}


def test_training_subpackages_stand_apart(graph):
    crossing = []
    for module, items in graph.items():
        parts = module.split(".")
        if parts[1] != "training" or len(parts) < 3 or parts[2] not in TRAINING_SUBPACKAGES:
            continue
        own = f"{PACKAGE}.training.{parts[2]}"
        for item in items:
            target = item.target
            if not target.startswith(f"{PACKAGE}.training") or target == own or target.startswith(own + "."):
                continue
            if target not in TRAINING_SUBPACKAGE_EXTRAS[parts[2]]:
                crossing.append(f"{module}:{item.line} imports {target}")
    assert not crossing, "training sub-packages importing each other or the training command:\n" + "\n".join(crossing)


def test_the_package_has_no_import_cycle(graph):
    edges = {module: sorted({item.target for item in items if item.target in graph and item.target != module})
             for module, items in graph.items()}
    state, stack, cycles = {}, [], []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in edges[module]:
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def remote_code_files(graph) -> list[str]:
    """Every modeling module (not the package's `__init__`, which a Hub folder does not hold), plus the processing
    entry files and the flat siblings they import."""
    selected = [module for module in graph if module.split(".")[1] == "modeling" and not is_package_module(module, graph)]
    pending = [".".join((PACKAGE,) + Path(name).with_suffix("").parts) for name in REMOTE_CODE_ENTRY_FILES]
    pending = [module for module in pending if module in graph]
    while pending:
        module = pending.pop()
        if module in selected:
            continue
        selected.append(module)
        folder = module.rpartition(".")[0]
        pending += [item.target for item in graph[module]
                    if item.target in graph and item.target.rpartition(".")[0] == folder]
    return sorted(selected)


def test_remote_code_files_import_only_what_a_hub_folder_has(graph):
    problems = []
    for module in remote_code_files(graph):
        folder = module.rpartition(".")[0]
        for item in graph[module]:
            top_name = item.target.split(".")[0]
            if top_name == PACKAGE:
                sibling = (item.relative_level == 1 and item.target in graph and not is_package_module(item.target, graph)
                           and item.target.rpartition(".")[0] == folder)
                if not sibling:
                    problems.append(f"{module}:{item.line} imports {item.target}: a Hub folder is flat and this "
                                    "package is not installed there (only `from .sibling import ...`)")
            elif top_name in sys.stdlib_module_names:
                continue
            elif top_name not in (REMOTE_CODE_TOP_LEVEL if item.top_level else REMOTE_CODE_IN_FUNCTIONS):
                where = "at module level" if item.top_level else "inside a function"
                problems.append(f"{module}:{item.line} imports {item.target} {where}")
    assert not problems, "remote-code files must load from a flat Hub folder:\n" + "\n".join(problems)


def test_the_checks_see_what_they_check(graph):
    """The walk finds the imports it is meant to judge (a walk that saw nothing would pass everything)."""
    processor = graph[f"{PACKAGE}.processing.video_processing_videomae_action_detection"]
    assert f"{PACKAGE}.processing.clip_reader" in {item.target for item in processor}
    assert f"{PACKAGE}.processing.clip_reader" in remote_code_files(graph)
    training_targets = {item.target for items in graph.values() for item in items
                        if item.target.startswith(f"{PACKAGE}.training")}
    assert training_targets, "no import of the training layer was found"
