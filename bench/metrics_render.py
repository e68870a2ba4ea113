"""Offline cost of ``/metrics`` at 10,000 checks: the scrape's render, and the cost of recording a result.

10,000 sites with one ``http`` check each, every result with the 10 samples a real http
check reports (5 plain gauges, 5 phase durations); statuses mixed. Measured on this
process' CPU clock (``time.thread_time``), so other processes on the machine count less:

* **render**: ``Exposition.render`` for a plain and an OpenMetrics scrape, right after a
  full round of new results (every check has a new result since the previous scrape, as in
  the fleet benchmark where checks and scrapes both run every 10 s); best and median of N;
* **record**: ``ResultBook.record`` per result, µs, over rounds of 10,000 new results
  (whatever the book and its collector do when a result arrives).

Bounded: ~10-30 s. Run: ``.venv/bin/python -m bench.metrics_render [--checks N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import time

from sitewatch.config.registry import load_checks
from sitewatch.engine.results import ResultBook, RunRecord
from sitewatch.probe import Result, Sample, Status
from sitewatch.web.exposition import Exposition
from sitewatch.web.metrics import SitewatchCollector

PHASES = ("resolve", "connect", "tls", "processing", "transfer")
STATUSES = (Status.OK, Status.OK, Status.OK, Status.WARNING, Status.CRITICAL)


def result(n: int, round_: int) -> RunRecord:
    """A realistic http result for site ``n``: 10 samples, values that differ by round."""
    jitter = (n * 7919 + round_ * 104729) % 1000 / 1e5
    samples = (
        Sample("probe_http_status_code", 200.0),
        Sample("probe_http_content_length", 1043.0),
        Sample("probe_http_uncompressed_body_length", 1043.0),
        Sample("probe_http_redirects", 0.0),
        Sample("probe_http_ssl", 1.0 if n % 10 == 0 else 0.0),
        *(
            Sample("probe_http_duration_seconds", 0.0001 * (i + 1) + jitter, (("phase", p),))
            for i, p in enumerate(PHASES)
        ),
    )
    status = STATUSES[(n + round_) % len(STATUSES)]
    return RunRecord(
        f"site-{n:05d}",
        "http",
        "http",
        Result(status, "HTTP 200", samples),
        1_800_000_000.0 + round_ * 10 + n / 1000,
        0.01 + jitter,
    )


def main() -> None:
    """Print render ms and µs per recorded result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    book = ResultBook()
    book.configure(((f"site-{n:05d}", "http"), "http") for n in range(args.checks))
    exposition = Exposition(SitewatchCollector(book, load_checks(), logging.getLogger("bench")))
    records = [[result(n, r) for n in range(args.checks)] for r in range(args.rounds + 1)]
    gc.freeze()  # as the agent does after loading its config: the pre-built records are not scanned by each GC
    per_result: list[float] = []
    render: dict[str, list[float]] = {"text": [], "openmetrics": []}
    size = 0
    for round_, batch in enumerate(records):
        started = time.thread_time()
        for record in batch:
            book.record(record)
        if round_:  # round 0 warms caches (escaped label prefixes, headers)
            per_result.append((time.thread_time() - started) / len(batch) * 1e6)
        for kind, accept in (("text", ""), ("openmetrics", "application/openmetrics-text;version=1.0.0")):
            started = time.thread_time()
            body, _ = exposition.render(accept)
            if round_:
                render[kind].append((time.thread_time() - started) * 1e3)
            size = len(body)
    print(f"{args.checks} checks, {args.rounds} rounds, body {size / 1e6:.1f} MB")
    print(f"record: {statistics.median(per_result):.2f} µs per result (median; min {min(per_result):.2f})")
    for kind, times in render.items():
        print(f"render {kind}: {min(times):.1f} ms best, {statistics.median(times):.1f} ms median")


if __name__ == "__main__":
    main()
