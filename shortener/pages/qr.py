"""QR codes for short URLs, drawn by segno: inline SVG for pages, SVG and PNG downloads."""

import io

import segno

KINDS = {"svg": "image/svg+xml", "png": "image/png"}


def inline_svg(url: str) -> str:
    code = segno.make(url, error="m")
    # omitsize: a viewBox instead of a fixed width and height, so it fills its box.
    return code.svg_inline(scale=4, border=2, title=f"QR code for {url}", omitsize=True)


def download(url: str, kind: str) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind=kind, scale=10, border=4)
    return buffer.getvalue(), KINDS[kind]
