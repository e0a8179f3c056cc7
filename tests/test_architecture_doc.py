"""docs/architecture.md names only what exists: every file, folder, module and function it
puts in backticks is in the tree, so the map cannot drift from the code unnoticed."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text()
PACKAGES = ("shortener", "config", "flags", "hypermedia", "tests", "bench")
QUOTED = re.findall(r"`([^`\s]+)`", DOC)
PATHS = sorted({q for q in QUOTED if q.split("/")[0] in PACKAGES and "/" in q})
DOTTED = sorted(
    {q for q in QUOTED if "/" not in q and q.split(".")[0] in PACKAGES and "." in q}
    - {"shortener.models"}  # its models are checked through their rooms
)


def test_the_page_names_things():
    assert len(PATHS) > 30 and len(DOTTED) > 20


@pytest.mark.parametrize("path", PATHS)
def test_every_path_it_names_exists(path):
    assert (ROOT / path).exists(), f"docs/architecture.md names {path}, which does not exist"


def resolve(name: str):
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(name)


@pytest.mark.parametrize("name", DOTTED)
def test_every_module_and_function_it_names_exists(name):
    try:
        resolve(name)
    except (ModuleNotFoundError, AttributeError) as error:
        pytest.fail(f"docs/architecture.md names {name}: {error}")
