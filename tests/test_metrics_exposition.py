"""The fast /metrics renderer writes exactly what prometheus_client's encoders write."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as om_latest
from prometheus_client.registry import Collector

from sitewatch.metrics import Exposition, SitewatchCollector
from sitewatch.probe import Result, Sample, Status
from sitewatch.registry import load_checks
from sitewatch.results import ResultBook, RunRecord, TicketStats

ODD_VALUES = [0, 1, -1, 200, 0.1234567, 999_999.5, 1e6, 1_764_190_000.123, 1e-7, math.inf, -math.inf, math.nan, 2**40]


class _Tail(Collector):
    def __init__(self, collector: SitewatchCollector) -> None:
        self._collector = collector

    def collect(self) -> Iterator[object]:  # type: ignore[override]
        yield from self._collector.agent_families()

    def describe(self) -> Iterator[object]:  # type: ignore[override]
        return iter(())


def _book() -> ResultBook:
    book = ResultBook()
    keys = [
        ("shop", "http", "http"),
        ('we"ird\\site\nname', "http", "http"),
        ("tls-site", "tls", "tls"),
        ("back", "backup", "backup"),
        ("never-ran", "http", "http"),
    ]
    book.configure(((site, check), kind) for site, check, kind in keys)
    for n, (site, check, kind) in enumerate(keys[:-1]):
        value = ODD_VALUES[n % len(ODD_VALUES)]
        samples = (
            Sample("probe_http_status_code", 200),
            Sample("probe_http_content_length", value),
            *(
                Sample("probe_http_duration_seconds", v, (("phase", p),))
                for p, v in zip(("resolve", "tls"), ODD_VALUES, strict=False)
            ),
            Sample("probe_ssl_earliest_cert_expiry", 1_800_000_000.0),
            Sample("not_declared_anywhere", 1.0),
        )
        status = list(Status)[n % len(Status)]
        book.record(RunRecord(site, check, kind, Result(status, "x", samples), 1_764_190_000.5 + n, ODD_VALUES[n]))
        book.record(RunRecord(site, check, kind, Result(Status.OK, "x", samples), 1_764_190_010.5 + n, 0.25))
    for value in ODD_VALUES:
        book.lag.observe(0.0 if math.isnan(value) else abs(value))
    book.ticket_stats = lambda: TicketStats(1, 2, 0, 3.5, {("local", "ok"): 4})
    return book


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text-0.0.4", "openmetrics"])
def test_fast_renderer_matches_the_library(openmetrics: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-check text + the library's tail == the library on the whole collector, byte for byte."""
    collector = SitewatchCollector(_book(), load_checks(), logging.getLogger("test"))

    def generic(*_: object) -> str:
        raise AssertionError("well-formed labelled samples must take the per-family template")

    monkeypatch.setattr(collector, "_labelled", generic)
    whole, tail = CollectorRegistry(auto_describe=False), CollectorRegistry(auto_describe=False)
    whole.register(collector)
    tail.register(_Tail(collector))
    encode = om_latest if openmetrics else generate_latest
    expected = encode(whole).decode()
    assert collector.per_check_text(openmetrics) + encode(tail).decode() == expected
    assert 'site="we\\"ird\\\\site\\nname"' in expected  # the escapes were exercised


def test_exposition_picks_the_format_from_accept() -> None:
    """Prometheus' Accept header gets OpenMetrics; a plain client gets text 0.0.4; both carry the process metrics."""
    exposition = Exposition(SitewatchCollector(_book(), load_checks(), logging.getLogger("test")))
    body, content_type = exposition.render("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    assert b"process_cpu_seconds_total" in body
    body, content_type = exposition.render("")
    assert content_type.startswith("text/plain")
    assert b"# EOF" not in body
    assert b'probe_success{check="http",site="shop"} 1.0\n' in body


def test_render_time_is_exported_on_the_next_scrape() -> None:
    """sitewatch_metrics_render_seconds: 0 before any scrape, then the previous scrape's render time."""
    exposition = Exposition(SitewatchCollector(_book(), load_checks(), logging.getLogger("test")))
    first, _ = exposition.render("")
    assert b"\nsitewatch_metrics_render_seconds 0.0\n" in first
    second, _ = exposition.render("")
    line = next(x for x in second.decode().splitlines() if x.startswith("sitewatch_metrics_render_seconds "))
    assert 0.0 < float(line.split()[1]) < 5.0
