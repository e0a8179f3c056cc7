"""CSV downloads open in a spreadsheet as data: no cell a stranger wrote runs as a formula."""

import csv
import io

import pytest
from django.urls import reverse
from waffle.testutils import override_flag

from shortener.portability.spreadsheets import csv_lines, safe_cell
from tests.conftest import flush_visits, make_link, make_user


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (
            '=HYPERLINK("https://evil.example","click")',
            '\'=HYPERLINK("https://evil.example","click")',
        ),
        ("=1+2", "'=1+2"),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+2", "'\t=1+2"),
        ("\r=1+2", "'\r=1+2"),
        ("news.example.com", "news.example.com"),
        ("a=b", "a=b"),  # only the first character makes a formula
        ("", ""),
        ("'=1", "'=1"),  # already text to a spreadsheet
        (-5, -5),  # numbers are ours, not a stranger's text
        (True, True),
        (None, None),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_made_text(cell, written):
    assert safe_cell(cell) == written


def test_lines_quote_as_csv_and_keep_the_header():
    lines = list(csv_lines(["host", "n"], [['=cmd|" /C calc"!A0', 1], ["a,b", -1]]))
    assert lines[0] == "host,n\r\n"
    rows = list(csv.reader(io.StringIO("".join(lines))))
    assert rows == [["host", "n"], ['\'=cmd|" /C calc"!A0', "1"], ["a,b", "-1"]]


def test_lines_are_made_one_by_one():
    def endless():
        while True:
            yield ["=1"]

    lines = csv_lines(["x"], endless())
    assert [next(lines), next(lines), next(lines)] == ["x\r\n", "'=1\r\n", "'=1\r\n"]


@pytest.mark.django_db
def test_a_formula_in_a_referrer_host_reaches_the_csv_as_text(client):
    # The referrer host is the one visit field a stranger writes freely: urlsplit keeps
    # `=`, quotes and parentheses in a host (browser and OS families come from ua-parser's
    # list, which never starts with one of these characters).
    owner = make_user("olga")
    link = make_link(owner=owner)
    followed = client.get(
        f"/{link.slug}", headers={"referer": 'https://=HYPERLINK("evil.example")/page'}
    )
    assert followed.status_code in (301, 302, 307, 308)
    assert flush_visits() == 1

    client.force_login(owner)
    with override_flag("link_analytics", active=True):
        response = client.get(reverse("link-visits-csv", args=[link.slug]))
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][1] == "referrer_host"
    assert rows[1][1] == '\'=hyperlink("evil.example")'
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
