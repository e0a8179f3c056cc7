"""The figures the docs state come from the code: each sentence that gives a limit is
read here and compared with the constant that enforces it, so the docs cannot drift
(they once said stats take 1-365 days where 366 was accepted)."""

import re
from pathlib import Path

import pytest

from shortener.api import gate, schemas
from shortener.links import cleaning
from shortener.policy import redirect_rules, slugs
from shortener.visits import ranges
from shortener.webhooks import receiver

ROOT = Path(__file__).resolve().parent.parent


def figures(path: str, pattern: str) -> list[str]:
    """Every match of `pattern`'s groups in the doc; at least one, or the sentence moved."""
    text = re.sub(r"\s+", " ", (ROOT / path).read_text(encoding="utf-8"))
    found = re.findall(pattern, text)
    assert found, f"{path} no longer says {pattern!r}: update this test with the doc"
    return found


def number(text: str) -> int:
    return int(text.replace(",", ""))


KB = 1024


@pytest.mark.parametrize(
    ("path", "pattern", "value"),
    [
        # stats ranges
        ("docs/api.md", r"oldest first, 1\u2013(\d+) days", ranges.MAX_DAYS),
        ("docs/api.md", r"today included; 1 to (\d+),", ranges.MAX_DAYS),
        ("docs/api.md", r"default (\d+)\) or `\?from", ranges.DEFAULT_DAYS),
        ("docs/api.md", r"both included, at most (\d+) days", ranges.MAX_DAYS),
        ("docs/links.md", r"any N from 1 to (\d+) accepted", ranges.MAX_DAYS),
        ("docs/design-decisions.md", r"A range is 1 to (\d+) days", ranges.MAX_DAYS),
        # link rules
        ("docs/links.md", r"at most (\d+) rules", redirect_rules.MAX_RULES),
        ("docs/links.md", r"A custom slug is (\d+) to \d+ characters", slugs.CUSTOM_MIN_LENGTH),
        ("docs/links.md", r"A custom slug is \d+ to (\d+) characters", slugs.MAX_LENGTH),
        ("docs/links.md", r"The title can be at most (\d+) characters", cleaning.TITLE_MAX),
        ("docs/links.md", r"duplicates dropped, at most (\d+)", cleaning.TAGS_MAX),
        ("docs/configuration.md", r"`SLUG_LENGTH` \| `(\d+)`", slugs.DEFAULT_LENGTH),
        ("docs/api.md", r"a whole number from 1 to ([\d,]+), or `null`", cleaning.MAX_VISITS_MAX),
        # body sizes
        ("docs/api.md", r"create up to ([\d,]+) links", schemas.BATCH_MAX),
        ("docs/import-export.md", r"`POST /api/v1/links/batch`: up to ([\d,]+) links",
         schemas.BATCH_MAX),
        ("docs/api.md", r"The body may be up to (\d+) MB", gate.MAX_BATCH_BODY // (KB * KB)),
        ("docs/api.md", r"other bodies: (\d+) KB", gate.MAX_BODY // KB),
        ("docs/api.md", r"\((\d+) KB for the API", gate.MAX_BODY // KB),
        ("docs/webhooks.md", r"\((\d+) KB for the API", gate.MAX_BODY // KB),
        ("docs/api.md", r"(\d+) KB for webhook deliveries", receiver.MAX_BODY_BYTES // KB),
        ("docs/webhooks.md", r"(\d+) KB for webhook deliveries", receiver.MAX_BODY_BYTES // KB),
        ("docs/webhooks.md", r"the bytes read\) over (\d+) KB", receiver.MAX_BODY_BYTES // KB),
    ],
)  # fmt: skip
def test_the_docs_figure_is_the_codes(path, pattern, value):
    assert {number(found) for found in figures(path, pattern)} == {value}
