"""The fast /metrics renderer writes exactly what prometheus_client's encoders write."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as om_latest
from prometheus_client.registry import Collector

from sitewatch.config.registry import load_checks
from sitewatch.engine.results import ResultBook, RunRecord, TicketStats
from sitewatch.probe import Result, Sample, Status
from sitewatch.web.exposition import Exposition
from sitewatch.web.metrics import SitewatchCollector

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

    monkeypatch.setattr(collector._lines, "_labelled", generic)
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


def _library(collector: SitewatchCollector, openmetrics: bool) -> str:
    """What prometheus_client itself writes for the whole collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return (om_latest if openmetrics else generate_latest)(registry).decode()


def _ours(exposition: Exposition, openmetrics: bool) -> str:
    """Exposition's body without the process and platform families (they change between two calls)."""
    body, _ = exposition.render("application/openmetrics-text;version=1.0.0" if openmetrics else "")
    return "".join(
        line
        for line in body.decode().splitlines(keepends=True)
        if not re.match(r"(# (HELP|TYPE|UNIT) )?(process|python)_", line)
    )


def _http(site: str, status: Status, value: float, at: float) -> RunRecord:
    samples = (
        Sample("probe_http_status_code", 200),
        Sample("probe_http_content_length", value),
        Sample("probe_http_duration_seconds", value / 10, (("phase", "connect"),)),
    )
    return RunRecord(site, "http", "http", Result(status, "x", samples), at, value / 100)


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text-0.0.4", "openmetrics"])
def test_lines_rendered_as_results_arrive_match_the_library(openmetrics: bool) -> None:
    """A collector watching the book from the start (as in the agent) renders at record time: still byte-identical."""
    book = ResultBook()
    exposition = Exposition(SitewatchCollector(book, load_checks(), logging.getLogger("test")))
    reference = _book()
    book.configure(reference.configured.items())
    for n, value in enumerate(ODD_VALUES):  # several results per check, statuses changing, odd values
        for site, check in list(reference.configured)[:-1]:
            record = reference.latest[(site, check)]
            status = list(Status)[n % len(Status)]
            book.record(RunRecord(site, check, record.check_type, Result(status, "x", record.result.samples), n, value))
    assert exposition.collector._fragments  # the hook did render (the scrape did not have to)
    expected = _library(exposition.collector, openmetrics)
    assert _ours(exposition, openmetrics) == expected
    assert ("# EOF\n" in expected) is openmetrics


def test_a_new_result_replaces_the_checks_lines() -> None:
    """The next scrape shows the new result's values, and no line of the previous one."""
    book = ResultBook()
    book.configure([(("shop", "http"), "http"), (("blog", "http"), "http")])
    exposition = Exposition(SitewatchCollector(book, load_checks(), logging.getLogger("test")))
    book.record(_http("shop", Status.OK, 111.0, 1000.0))
    book.record(_http("blog", Status.OK, 222.0, 1000.0))
    first = _ours(exposition, False)
    assert 'probe_http_content_length{check="http",site="shop"} 111.0\n' in first
    book.record(_http("shop", Status.CRITICAL, 333.0, 1010.0))
    expected = _library(exposition.collector, False)  # first: ours sets the next render time
    second = _ours(exposition, False)
    assert 'probe_http_content_length{check="http",site="shop"} 333.0\n' in second
    assert "111.0" not in second
    assert 'probe_success{check="http",site="shop"} 0.0\n' in second
    assert 'sitewatch_check_runs_total{check="http",site="shop",status="critical"} 1.0\n' in second
    assert 'probe_http_content_length{check="http",site="blog"} 222.0\n' in second
    assert second == expected


def test_a_reload_drops_removed_and_retyped_checks() -> None:
    """Removed: every series goes. Retyped: the old type's series go until a result of the new type arrives."""
    book = ResultBook()
    keys = [(("shop", "http"), "http"), (("blog", "http"), "http"), (("gone", "http"), "http")]
    book.configure(keys)
    exposition = Exposition(SitewatchCollector(book, load_checks(), logging.getLogger("test")))
    for site in ("shop", "blog", "gone"):
        book.record(_http(site, Status.OK, 5.0, 1000.0))
    assert 'site="gone"' in _ours(exposition, False)
    book.configure([(("shop", "http"), "tls"), (("blog", "http"), "http")])
    body = _ours(exposition, False)
    assert 'site="gone"' not in body
    assert 'probe_http_content_length{check="http",site="shop"}' not in body
    assert 'probe_success{check="http",site="shop"}' not in body
    assert ("gone", "http") not in exposition.collector._fragments
    assert ("shop", "http") not in exposition.collector._fragments
    book.record(_http("shop", Status.OK, 5.0, 1010.0))  # a run of the old type, in flight during the reload
    assert 'probe_success{check="http",site="shop"}' not in _ours(exposition, False)
    tls = RunRecord(
        "shop", "http", "tls", Result(Status.OK, "x", (Sample("probe_ssl_earliest_cert_expiry", 2e9),)), 1020.0, 0.1
    )
    book.record(tls)
    expected = _library(exposition.collector, False)
    body = _ours(exposition, False)
    assert 'sitewatch_check_status{check="http",site="shop",type="tls"} 0.0\n' in body
    assert 'probe_ssl_earliest_cert_expiry{check="http",site="shop"} 2e+09\n' in body
    assert body == expected


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text-0.0.4", "openmetrics"])
def test_families_that_change_without_a_result_are_current(openmetrics: bool) -> None:
    """Lag histogram, availability, tickets and checks configured are read at scrape time, not kept."""
    book = _book()
    ratios = {"shop": 0.5}
    tickets = [TicketStats(1, 2, 0, 3.5, {("local", "ok"): 4})]
    book.ticket_stats = lambda: tickets[-1]
    exposition = Exposition(
        SitewatchCollector(book, load_checks(), logging.getLogger("test"), availability=lambda: ratios)
    )
    before = _ours(exposition, openmetrics)
    assert 'sitewatch_availability_ratio{site="shop",window="30d"} 0.5\n' in before
    book.lag.observe(0.3)
    ratios["shop"] = 0.25
    tickets.append(TicketStats(7, 0, 1, 0.0, {("local", "ok"): 9}))
    expected = _library(exposition.collector, openmetrics)
    after = _ours(exposition, openmetrics)
    assert 'sitewatch_availability_ratio{site="shop",window="30d"} 0.25\n' in after
    assert "sitewatch_open_incidents 7.0\n" in after
    assert 'sitewatch_ticket_deliveries_total{outcome="ok",sink="local"} 9.0\n' in after
    assert f"sitewatch_scheduler_lag_seconds_count {len(ODD_VALUES) + 1}.0\n" in after
    assert after == expected


def test_a_sample_that_cannot_be_rendered_does_not_break_recording() -> None:
    """The book keeps the result and the agent its result handling; the scrape fails as it always did."""
    book = ResultBook()
    book.configure([(("shop", "http"), "http")])
    exposition = Exposition(SitewatchCollector(book, load_checks(), logging.getLogger("test")))
    bad = Result(Status.OK, "x", (Sample("probe_http_status_code", "oops"),))  # type: ignore[arg-type]
    book.record(RunRecord("shop", "http", "http", bad, 1000.0, 0.1))
    assert book.latest[("shop", "http")].result is bad
    with pytest.raises(ValueError, match="oops"):
        exposition.render("")
    book.record(_http("shop", Status.OK, 5.0, 1010.0))
    assert b'probe_http_status_code{check="http",site="shop"} 200.0\n' in exposition.render("")[0]


def test_a_big_family_goes_out_in_bounded_chunks_and_stays_byte_identical() -> None:
    """With 2,500 checks no chunk carries more than 1,000 checks' lines, and the body is still the library's."""
    book = ResultBook()
    exposition = Exposition(SitewatchCollector(book, load_checks(), logging.getLogger("test")))
    sites = [f"site{n}" for n in range(2500)]
    book.configure(((site, "http"), "http") for site in sites)
    for n, site in enumerate(sites):
        book.record(_http(site, Status.OK, float(n), 1_764_190_000.0 + n))
    chunks = list(exposition.collector.per_check_chunks())
    success = [c for c in chunks if c.startswith("probe_success{")]
    assert [c.count("\n") for c in success] == [1000, 1000, 500]
    assert max(c.count("\n") for c in chunks) <= 1000
    expected = _library(exposition.collector, False)  # first: our render updates the render-time gauge
    assert _ours(exposition, False) == expected


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text-0.0.4", "openmetrics"])
def test_site_info_is_rendered_once_per_site_list_and_matches_the_library(openmetrics: bool) -> None:
    """sitewatch_site_info's lines equal the library's (escapes included); a new site list renders anew."""
    sites: tuple[tuple[str, str, tuple[str, ...]], ...] = (
        ("shop", "acme", ("wordpress", 'odd"tag\\x')),
        ("blog", "default", ()),
    )
    current = [sites]
    collector = SitewatchCollector(_book(), load_checks(), logging.getLogger("test"), sites=lambda: current[0])
    whole, tail = CollectorRegistry(auto_describe=False), CollectorRegistry(auto_describe=False)
    whole.register(collector)
    tail.register(_Tail(collector))
    encode = om_latest if openmetrics else generate_latest
    assert collector.per_check_text(openmetrics) + encode(tail).decode() == encode(whole).decode()
    assert 'sitewatch_site_info{client="acme",site="shop",tags=",odd\\"tag\\\\x,wordpress,"} 1.0\n' in (
        collector.per_check_text(openmetrics)
    )
    current[0] = (("shop", "beta", ()),)  # a reload: a new tuple
    text = collector.per_check_text(openmetrics)
    assert 'sitewatch_site_info{client="beta",site="shop",tags=""} 1.0\n' in text
    assert 'site="blog"' not in text.split("sitewatch_site_info", 1)[1]
