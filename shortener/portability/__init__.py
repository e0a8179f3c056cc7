"""Links in and out: reading other shorteners' files, exporting Torii's own, importing.

`reading` turns bytes into numbered rows (or a sentence about the row), `formats` turns
one row of each format into the link core's plain values, `importing` hands them to
`shortener.links.create_many` a chunk at a time and reports each row, `export` streams
links as CSV or JSON Lines, `bulk` is the browser's background task. Nothing here holds
a link rule: the core judges every imported link.
"""
