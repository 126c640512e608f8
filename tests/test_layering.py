"""Layers only point down: runtime (threads) under nn at the bottom, glue (recipes, experiments, the CLI) on top.

Each package may import itself and the packages listed for it, nothing else from
minipgd; the README draws the same diagram. The checker reads every module's
imports with `ast`, so a violation is reported with its file and line.
"""
import ast
import shutil
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "minipgd"
BELOW = {
    "runtime": set(),  # threads and load: how fast, never what is computed
    "nn": {"runtime"},
    "envs": {"runtime", "nn"},
    "diffusion": {"runtime", "nn"},
    "world_models": {"runtime", "nn"},
    "rl": {"runtime", "nn", "diffusion"},
    "analysis": {"runtime", "nn", "envs", "diffusion", "rl"},
    "recipes": {"runtime", "nn", "envs", "rl"},
    "experiments": {"runtime", "nn", "envs", "diffusion", "world_models", "rl", "analysis", "recipes"},
    "__main__": {"runtime", "nn", "envs", "diffusion", "world_models", "rl", "analysis", "recipes", "experiments"},
    "assignments": set(),
    "__init__": set(),
}


def _layer(parts):
    """The layer of a module given its path inside the package, e.g. ("rl", "td3.py") -> "rl"."""
    return parts[0].removesuffix(".py")


def _imported_layers(tree, module_parts):
    """(layer, line) for every import of a minipgd module in a parsed file."""
    package = list(module_parts[:-1])  # the folders above the file: what `from .x` is relative to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
                if not target:  # `from .. import x` at the top: x itself is the layer
                    yield from ((alias.name, node.lineno) for alias in node.names)
                    continue
            elif node.module and node.module.split(".")[0] == "minipgd":
                target = node.module.split(".")[1:]
            else:
                continue
            if target:
                yield target[0], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "minipgd" and len(parts) > 1:
                    yield parts[1], node.lineno


def layering_violations(package=PACKAGE):
    """['minipgd/envs/x.py:12 imports rl (envs may import only nn)', ...]."""
    package = Path(package)
    found = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        layer = _layer(parts)
        allowed = BELOW.get(layer)
        if allowed is None:
            found.append(f"{package.name}/{'/'.join(parts)}: the package {layer!r} has no place in the layering")
            continue
        for imported, line in _imported_layers(ast.parse(path.read_text()), parts):
            if imported != layer and imported not in allowed:
                may = ", ".join(sorted(allowed)) or "nothing from minipgd"
                found.append(f"{package.name}/{'/'.join(parts)}:{line} imports {imported} ({layer} may import {may})")
    return found


def test_every_import_points_down():
    assert layering_violations() == []


def test_the_checker_names_an_upward_import(tmp_path):
    copy = tmp_path / "minipgd"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.npz"))
    registry = copy / "envs" / "registry.py"
    lines = registry.read_text().splitlines()
    registry.write_text("\n".join(lines + ["from ..rl.td3 import TD3  # an upward import"]) + "\n")
    diffusion = copy / "diffusion" / "model.py"
    diffusion.write_text(diffusion.read_text() + "import minipgd.envs.dataset\n")
    violations, last = layering_violations(copy), len(diffusion.read_text().splitlines())
    assert violations == [
        f"minipgd/diffusion/model.py:{last} imports envs (diffusion may import nn, runtime)",
        f"minipgd/envs/registry.py:{len(lines) + 1} imports rl (envs may import nn, runtime)",
    ]


def test_relative_imports_resolve_against_their_package():
    tree = ast.parse("from . import edm\nfrom ..nn.unet import HORIZON\nfrom .. import rl\n")
    assert list(_imported_layers(tree, ("diffusion", "sampler.py"))) == [("diffusion", 1), ("nn", 2), ("rl", 3)]
