"""Counter benchmark: one shared counter incremented as the rate limiter does (add, then
incr), by 2 processes of 2 threads, on diskcache (SQLite) and on LMDB, side by side."""

import multiprocessing
import statistics
import tempfile
import threading
import time

PROCESSES = 2
THREADS = 2
SECONDS = 3.0
STORES = {
    "diskcache (SQLite)": "config.caches.PersistentDiskCache",
    "LMDB": "config.counter_cache.LmdbCounterCache",
}


def hammer(backend: str, location: str, results) -> None:
    from django.utils.module_loading import import_string

    timings: list[float] = []

    def run():
        counters = import_string(backend)(location, {"TIMEOUT": 300})
        mine = []
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            started = time.perf_counter_ns()
            if not counters.add("rl:bench", 1, timeout=60):
                counters.incr("rl:bench")
            mine.append((time.perf_counter_ns() - started) / 1000)
        timings.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(timings)


def measure(backend: str) -> tuple[float, float, float, int]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    with tempfile.TemporaryDirectory() as location:
        processes = [
            context.Process(target=hammer, args=(backend, location, results))
            for _ in range(PROCESSES)
        ]
        for process in processes:
            process.start()
        timings = [t for _ in processes for t in results.get()]
        for process in processes:
            process.join()
        from django.utils.module_loading import import_string

        final = import_string(backend)(location, {"TIMEOUT": 300}).get("rl:bench")
    p99 = statistics.quantiles(timings, n=100)[-1]
    return len(timings) / SECONDS, statistics.median(timings), p99, final - len(timings)


def section():
    rows = []
    rates = {}
    for name, backend in STORES.items():
        per_second, median, p99, miscount = measure(backend)
        rates[name] = per_second
        rows += [
            (f"{name}: increments per second ({PROCESSES} processes x {THREADS} threads)",
             per_second, "/s"),
            (f"{name}: median per increment", median, "µs"),
            (f"{name}: p99 per increment", p99, "µs"),
            (f"{name}: final count minus increments made", miscount, ""),
        ]  # fmt: skip
    rows.append(
        ("LMDB / diskcache increments per second", rates["LMDB"] / rates["diskcache (SQLite)"], "x")
    )
    return rows
