"""Dependencies point down: config wires everything; shortener and flags never import
config; flags knows nothing of shortener; hypermedia (shared response helpers) imports
none of them."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
FORBIDDEN = {
    "shortener": {"config"},
    "flags": {"config", "shortener"},
    "hypermedia": {"config", "shortener", "flags"},
}


def imported_packages(package: str) -> dict[str, set[str]]:
    """top-level package → the files of `package` that import it."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.partition(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down(package):
    imported = imported_packages(package)
    wrong = {name: sorted(imported[name]) for name in FORBIDDEN[package] if name in imported}
    assert not wrong, wrong
