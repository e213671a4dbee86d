"""The dependency rule of the README's Architecture section, checked on every import.

``store`` knows none of the others; ``bots`` know the store; ``workers`` know bots and store;
``commands`` may use all three; ``config`` is shared by all and imports none of them.
The platform emulators (``emulators``) stand apart: they import none of ours, and of the
production code only the demo may import them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

LAYERS = ("config", "store", "bots", "workers", "commands", "emulators")
MAY_IMPORT = {
    "config": set(),
    "store": {"config"},
    "bots": {"config", "store"},
    "workers": {"config", "store", "bots"},
    "commands": {"config", "store", "bots", "workers", "emulators"},
    "emulators": set(),
}
# The only production modules that may start the platforms' stand-ins: `switchboard demo`.
EMULATOR_USERS = {"commands/demo.py", "commands/demo_platforms.py"}


def _imported_layers(path: Path) -> set[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in LAYERS:
                found.add((top, node.lineno))
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_one_way(layer: str) -> None:
    wrong = [
        f"{path.relative_to(REPO_ROOT)}:{line} imports {target}"
        for path in sorted((REPO_ROOT / layer).rglob("*.py"))
        for target, line in sorted(_imported_layers(path))
        if target != layer and target not in MAY_IMPORT[layer]
    ]
    assert not wrong, f"{layer} may import only {sorted(MAY_IMPORT[layer])}: " + "; ".join(wrong)


def test_only_the_demo_imports_the_emulators() -> None:
    wrong = [
        f"{path.relative_to(REPO_ROOT)}:{line}"
        for layer in ("config", "store", "bots", "workers", "commands")
        for path in sorted((REPO_ROOT / layer).rglob("*.py"))
        for target, line in sorted(_imported_layers(path))
        if target == "emulators" and str(path.relative_to(REPO_ROOT)) not in EMULATOR_USERS
    ]
    assert not wrong, "only the demo may import the emulators: " + "; ".join(wrong)
