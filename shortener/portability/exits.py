"""The way out: a person's live redirects as files other servers serve without Torii, so a
printed short link keeps working whatever becomes of this installation.

Formats: an nginx `map`, an Apache `RewriteMap` (txt), a Caddyfile, a `_redirects` file
(Netlify, Cloudflare Pages and other static hosts) and a static site (one `index.html` a
slug, with a meta refresh and a canonical link, for any static file server). None of them
can ask for a password, choose by rules, forward a query, count visits or expire: each
file says so at its top and names the links it left out or sent to their plain
destination. A protected link is always left out (its destination is for the people who
know the password); the others are left out or sent to their plain destination, as the
operator chooses. Only live links are written: a disabled, expired or deleted one simply
answers the server's 404.

Stored targets are ASCII without spaces (the target policy percent-encodes the rest), so
what each format must escape is its own syntax: nginx's `$` variables and quotes,
Caddy's `{placeholders}`, HTML's markup.
"""

import html
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import batched
from typing import Any, BinaryIO

FORMATS = {
    "nginx": "text/plain; charset=utf-8",
    "apache": "text/plain; charset=utf-8",
    "caddy": "text/plain; charset=utf-8",
    "redirects": "text/plain; charset=utf-8",
    "static": "application/zip",
}
SKIP, PLAIN = "skip", "plain"
ONE_DOMAIN = ("redirects", "static")  # the formats that hold one domain's paths
CODES = (301, 302, 307, 308)


@dataclass(frozen=True)
class Entry:
    host: str
    slug: str
    target: str
    code: int


@dataclass
class Plan:
    entries: list[Entry] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (key, why)
    plain: list[tuple[str, str]] = field(default_factory=list)  # (key, what it loses)
    unsupported: str = SKIP

    def header(self, comment: str, fmt: str) -> list[str]:
        lines = [
            f"Torii's live redirects as {fmt}: {len(self.entries)} links.",
            "This file cannot ask for a password, choose by rules, forward a query, count",
            "visits or expire a link. Protected links are left out; links with rules, query",
            "forwarding, a visit limit or an expiry are "
            + ("sent to their plain destination." if self.unsupported == PLAIN else "left out."),
        ]
        lines += [f"left out: {key} ({why})" for key, why in self.left_out]
        lines += [f"plain destination: {key} (loses {what})" for key, what in self.plain]
        return [f"{comment} {line}".rstrip() for line in lines]


def plan(
    records: Iterable[dict[str, Any]], unsupported: str = SKIP, host: str | None = None
) -> Plan:
    """What each exported link becomes: written, left out, or written plain; with `host`,
    only that domain's links count (the one-domain formats, `domain_of`)."""
    result = Plan(unsupported=unsupported)
    for record in records:
        if record["state"] != "active" or (host is not None and record["domain"] != host):
            continue
        key = f"{record['domain']}/{record['slug']}"
        if record["protected"]:
            result.left_out.append((key, "protected by a password"))
            continue
        losses = [
            name
            for name, present in (
                ("its rules", bool(record["rules"])),
                ("query forwarding", record["forward_query"] not in ("", "off")),
                ("its visit limit", record["max_visits"] is not None),
                ("its expiry", bool(record["expires_at"])),
            )
            if present
        ]
        if losses and unsupported != PLAIN:
            result.left_out.append((key, "has " + ", ".join(losses).replace("its ", "")))
            continue
        if losses:
            result.plain.append((key, ", ".join(losses)))
        code = int(record["redirect_code"])
        result.entries.append(Entry(record["domain"], record["slug"], record["target"], code))
    return result


# --- nginx: `include` the file in the http block, then one `if` per code in the server --


def nginx_value(url: str) -> str:
    """A map value: quoted, `\\` and `"` escaped, and `$` (which nginx would read as a
    variable) written through the `$torii_dollar` variable the file defines."""
    escaped = url.replace("\\", "\\\\").replace('"', '\\"').replace("$", "${torii_dollar}")
    return f'"{escaped}"'


def nginx(result: Plan) -> Iterator[str]:
    yield from (line + "\n" for line in result.header("#", "an nginx map"))
    yield (
        "# In the http block: include this file. In each server block of the short domains:\n"
        + "".join(f"#   if ($torii_{code}) {{ return {code} $torii_{code}; }}\n" for code in CODES)
    )
    yield 'geo $torii_dollar { default "$"; }\n'
    for code in CODES:
        yield f'map $host$uri $torii_{code} {{\n    default "";\n    hostnames;\n'
        for entry in result.entries:
            if entry.code == code:
                yield f'    "{entry.host}/{entry.slug}" {nginx_value(entry.target)};\n'
        yield "}\n"


# --- Apache: a txt RewriteMap per code, keyed host/slug -------------------------------


def apache(result: Plan) -> Iterator[str]:
    yield from (line + "\n" for line in result.header("#", "an Apache RewriteMap (txt)"))
    yield "# Each line: <code>:<host>/<slug> <destination>. In the virtual host:\n"
    yield '#   RewriteEngine on\n#   RewriteMap torii "txt:/etc/apache2/torii.map"\n'
    for code in CODES:
        key = f"{code}:%{{HTTP_HOST}}%{{REQUEST_URI}}"
        yield f"#   RewriteCond ${{torii:{key}}} .+\n"
        yield f"#   RewriteRule ^ ${{torii:{key}}} [R={code},NE,L]\n"
    for entry in result.entries:
        yield f"{entry.code}:{entry.host}/{entry.slug} {entry.target}\n"


# --- Caddy: one site block a domain -------------------------------------------------


def caddy_value(url: str) -> str:
    escaped = url.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("{", "\\{").replace("}", "\\}") + '"'


def caddy(result: Plan) -> Iterator[str]:
    yield from (line + "\n" for line in result.header("#", "a Caddyfile"))
    hosts = sorted({entry.host for entry in result.entries})
    for host in hosts:
        yield f"\n{host} {{\n"
        for entry in result.entries:
            if entry.host == host:
                yield f"    redir /{entry.slug} {caddy_value(entry.target)} {entry.code}\n"
        yield "}\n"


# --- _redirects: one domain's paths -----------------------------------------------------


def redirects(result: Plan, host: str) -> Iterator[str]:
    yield from (line + "\n" for line in result.header("#", f"a _redirects file for {host}"))
    for entry in result.entries:
        yield f"/{entry.slug} {entry.target} {entry.code}\n"


# --- a static site: one folder a slug ------------------------------------------------


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Redirecting…</title>
<meta http-equiv="refresh" content="0; url={url}">
<link rel="canonical" href="{url}">
<meta name="robots" content="noindex">
</head>
<body>
<p>This short link leads to <a href="{url}">{url}</a>.</p>
</body>
</html>
"""


def static_site(result: Plan, host: str, into: BinaryIO) -> None:
    """A ZIP of `<slug>/index.html` pages and a README saying what the site cannot do."""
    with zipfile.ZipFile(into, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "README.txt", "\n".join(result.header("", f"a static site for {host}")) + "\n"
        )
        for entry in result.entries:
            page = PAGE.format(url=html.escape(entry.target, quote=True))
            archive.writestr(f"{entry.slug}/index.html", page)


# --- one entry for the command and the pages -----------------------------------------


def domain_of(kind: str, host: str) -> str | None:
    """The one domain a file of `kind` is for (`host`), or None: every domain's links."""
    return host if kind in ONE_DOMAIN else None


# What a browser saves each format as.
FILENAMES = {
    "nginx": "torii-redirects.nginx.conf",
    "apache": "torii-redirects.apache.map",
    "caddy": "Caddyfile",
    "redirects": "_redirects",
    "static": "torii-redirects-static.zip",
}


def write(kind: str, result: Plan, host: str, into: BinaryIO) -> None:
    """The file of one format, written into `into` as it goes; `host` is the domain a
    one-domain format (_redirects, the static site) is for."""
    if kind == "static":
        static_site(result, host, into)
        return
    writer = {
        "nginx": nginx,
        "apache": apache,
        "caddy": caddy,
        "redirects": lambda plan: redirects(plan, host),
    }[kind]
    for text in batched(writer(result), 1000, strict=False):
        into.write("".join(text).encode())


def render(kind: str, result: Plan, host: str) -> bytes:
    """The whole file in memory, for a response of a few thousand links."""
    buffer = io.BytesIO()
    write(kind, result, host, buffer)
    return buffer.getvalue()
