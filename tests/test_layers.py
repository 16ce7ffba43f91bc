"""ebmlib's architecture contract: imports run one way, from the top layer down.

Every module of ebmlib is parsed (``ast``; nothing is imported) and every import in it, at
module level, inside functions or under ``TYPE_CHECKING`` alike, is resolved to the ebmlib
module it names. A module may import from its own component (the package or module it
belongs to, say ``ebmlib.models`` for ``ebmlib/models/rbm.py``) and from components in lower
layers; never from its own layer's other components, nor from a layer above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "ebmlib"

# Bottom to top. Components in one layer are siblings and must not import each other.
LAYERS: list[list[str]] = [
    ["ebmlib._validation", "ebmlib._version"],
    ["ebmlib._random"],
    ["ebmlib.utils"],
    ["ebmlib.distributions"],
    ["ebmlib.models"],
    ["ebmlib.exact", "ebmlib.samplers", "ebmlib.diagnostics"],
    ["ebmlib.estimators"],
    ["ebmlib.objectives"],
    ["ebmlib.training", "ebmlib.data"],
    ["ebmlib.rbm_sgd"],
    ["ebmlib.plotting"],
    ["ebmlib.book"],
    ["ebmlib"],  # the package itself: it imports every submodule
]
LEVEL = {component: level for level, names in enumerate(LAYERS) for component in names}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def component(module: str) -> str:
    """The longest entry of the layer table that ``module`` is or lies inside."""
    best = max((c for c in LEVEL if module == c or module.startswith(c + ".")), key=len, default=None)
    if best is None:
        raise AssertionError(f"{module} is in no layer of tests/test_layers.py: add it to LAYERS")
    return best


def is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    return (ROOT / relative).with_suffix(".py").is_file() or (ROOT / relative / "__init__.py").is_file()


def imported(path: Path) -> list[tuple[int, str]]:
    """Every ebmlib module that ``path`` imports, with the line of the import."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "ebmlib"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "ebmlib":
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{target}.{alias.name}"
                found.append((node.lineno, sub if is_module(sub) else target))
    return found


def violations(root: Path = ROOT) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        source = module_name(path)
        mine = component(source)
        for line, target in imported(path):
            theirs = component(target)
            if theirs == mine or LEVEL[theirs] < LEVEL[mine]:
                continue
            where = "a sibling in its own layer" if LEVEL[theirs] == LEVEL[mine] else "a layer above it"
            problems.append(
                f"{path.relative_to(root.parent)}:{line}: {source} (layer {LEVEL[mine]}, {mine}) imports "
                f"{target} ({theirs}, layer {LEVEL[theirs]}), {where}"
            )
    return problems


def test_every_module_is_in_a_layer():
    for path in ROOT.rglob("*.py"):
        component(module_name(path))


def test_imports_run_one_way():
    problems = violations()
    assert not problems, (
        "ebmlib imports must run from higher layers to lower ones (the table is LAYERS in "
        "tests/test_layers.py):\n" + "\n".join(problems)
    )


@pytest.mark.parametrize(
    "source, target, allowed",
    [
        ("ebmlib.models.rbm", "ebmlib.utils", True),
        ("ebmlib.models.base", "ebmlib.models.wrappers", True),  # within a component
        ("ebmlib.models.base", "ebmlib.estimators.paths", False),  # up
        ("ebmlib.exact.enumeration", "ebmlib.samplers", False),  # sibling
        ("ebmlib.training.comparison", "ebmlib.objectives", True),
    ],
)
def test_the_rule(source, target, allowed):
    mine, theirs = component(source), component(target)
    assert (theirs == mine or LEVEL[theirs] < LEVEL[mine]) == allowed
