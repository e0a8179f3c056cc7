"""Run benchmark sections and print their figures: `python -m bench.run [section ...]`.

A section is a function that takes no arguments and returns rows of
(label, value, unit). Add a module beside this one and register its sections in
SECTIONS; `make bench SECTIONS="name ..."` runs a subset.
"""

import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

Row = tuple[str, float, str]
RESULTS = Path(__file__).resolve().parent / "results"


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")  # refusals are not news here
    import django

    django.setup()


def sections() -> dict[str, Callable[[], Iterable[Row]]]:
    from bench import (
        api,
        backup,
        collections,
        counters,
        countries,
        flush_cost,
        imports,
        limits,
        ratelimit,
        redirects,
        stats,
        webhooks,
    )

    return {
        "api": api.api_benchmark,
        "backup": backup.section,
        "collections": collections.section,
        "countries": countries.section,
        "flush": flush_cost.section,
        "import": imports.import_benchmark,
        "limits": limits.section,
        "ratelimit-counter": counters.section,
        "ratelimit-middleware": ratelimit.middleware_cost,
        "redirects": redirects.redirect_benchmark,
        "smart-redirects": redirects.smart_redirect_benchmark,
        "stats": stats.section,
        "webhooks": webhooks.section,
    }


def main(names: list[str]) -> int:
    setup_django()
    available = sections()
    unknown = [name for name in names if name not in available]
    if unknown:
        print(f"Unknown section(s) {', '.join(unknown)}; choose from {', '.join(available)}")
        return 2
    from django.conf import settings

    print(f"cache: {settings.CACHES['default']['BACKEND']}  python: {sys.version.split()[0]}")
    results = {}
    for name in names or list(available):
        print(f"\n== {name}")
        started = time.perf_counter()
        rows = list(available[name]())
        for label, value, unit in rows:
            print(f"  {label:<66} {value:>12,.1f} {unit}")
        print(f"  ({time.perf_counter() - started:.1f} s)")
        results[name] = [dict(zip(("label", "value", "unit"), row, strict=True)) for row in rows]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
