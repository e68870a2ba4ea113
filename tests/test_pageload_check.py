"""The pageload check against a real local shop on loopback (Host-routed shop.test and cdn.test)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yarl
from aiohttp import web
from prometheus_client.exposition import generate_latest

from sitewatch.config.registry import load_checks
from sitewatch.engine.results import ResultBook, RunRecord
from sitewatch.probe import Result, Sample, Status
from sitewatch.web.metrics import SitewatchCollector
from sitewatch.web.registry import build_registry
from tests.helpers import run_check, serve

HOSTS = {"shop.test": ["127.0.0.1"], "cdn.test": ["127.0.0.1"]}
SLOW = 0.3  # server-side delay of /js/slow.js; every other resource answers at once

# Same-origin resources the page references (10), with the bytes each one serves.
ASSETS = {
    "/css/site.css": 2_000,
    "/favicon.ico": 300,
    "/fonts/shop.woff2": 4_000,
    "/js/app.js": 3_000,
    "/js/slow.js": 500,
    "/img/logo.png": 1_000,
    "/img/a.png": 1_100,
    "/img/b.png": 1_200,
    "/img/banner.png": 5_000,
}
MISSING_BODY = b"not found"
CDN_BODY = 7_000

PAGE = """<!doctype html>
<html><head><title>Shop</title>
<link rel="stylesheet" href="/css/site.css">
<link rel="stylesheet" href="css/missing.css">
<link rel="alternate stylesheet" href="/css/high-contrast.css">
<LINK REL="icon" HREF="/favicon.ico">
<link rel="preload" href="/fonts/shop.woff2" as="font">
<script src="/js/app.js"></script>
<script src="/js/slow.js"></script>
<script src="http://cdn.test:{port}/lib/jquery.js"></script>
{extra}
</head><body>
<img src="/img/logo.png"><img src="/img/a.png"><img src="img/b.png">
<img src="/img/banner.png?v=7&amp;token=s3cret">
<img src="/img/logo.png">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
</body></html>
"""


@dataclass
class Shop:
    """The local site and what it saw."""

    port: int = 0
    scheme: str = "http"
    extra: str = ""  # more markup for the <head>
    page_delays: list[float | None] = field(default_factory=list)  # per page request; None = hang
    page_status: int = 200
    hits: Counter[str] = field(default_factory=Counter)
    inflight: int = 0
    peak: int = 0
    hold: asyncio.Event = field(default_factory=asyncio.Event)
    crowd_at: int = 0  # if set, resources wait (briefly) until this many requests are in flight
    crowd: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        """The shop's home page."""
        return f"{self.scheme}://shop.test:{self.port}/"

    def html(self) -> bytes:
        """The page as served."""
        return PAGE.format(port=self.port, extra=self.extra).encode()


def _app(shop: Shop) -> web.Application:
    async def page(_: web.Request) -> web.Response:
        delay = shop.page_delays.pop(0) if shop.page_delays else 0.0
        if delay is None:
            await shop.hold.wait()
        elif delay:
            await asyncio.sleep(delay)  # the server's controlled slowness, measured by the check
        return web.Response(body=shop.html(), status=shop.page_status, content_type="text/html")

    async def asset(request: web.Request) -> web.Response:
        path = request.path
        if shop.crowd_at:
            if shop.inflight >= shop.crowd_at:
                shop.crowd.set()
            # Holds each resource long enough for a client without a limit to pile up requests.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shop.crowd.wait(), 0.1)
        if path == "/js/slow.js":
            await asyncio.sleep(SLOW)
        if path.startswith("/hang/"):
            await shop.hold.wait()
        if path == "/big.bin":
            return web.Response(body=b"b" * 100_000)
        if path not in ASSETS:
            return web.Response(body=MISSING_BODY, status=404)
        return web.Response(body=b"x" * ASSETS[path])

    async def handle(request: web.Request) -> web.Response:
        host = request.host.split(":")[0]
        shop.hits[f"{host}{request.path}"] += 1
        shop.inflight += 1
        shop.peak = max(shop.peak, shop.inflight)
        try:
            if host == "cdn.test":
                return web.Response(body=b"c" * CDN_BODY)
            if request.path == "/":
                return await page(request)
            if request.path == "/old-home":
                raise web.HTTPFound("/")
            return await asset(request)
        finally:
            shop.inflight -= 1

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    return app


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    """The shop on an ephemeral port, reachable as shop.test and cdn.test through the test resolver."""
    state = Shop()
    async with serve(_app(state)) as base:
        state.port = yarl.URL(base).port or 0
        yield state
        state.hold.set()  # let hanging handlers finish so the server shuts down cleanly


async def _run(shop: Shop, settings: dict[str, Any], seconds: float = 5.0) -> Any:
    return await run_check("pageload", settings, url=shop.url, hosts=HOSTS, timeout=seconds)


def _values(result: Any) -> dict[str, float]:
    return {s.name + "".join(f"{{{v}}}" for _, v in s.labels): s.value for s in result.samples}


def _document_bytes(shop: Shop) -> int:
    return len(shop.html())


async def test_full_load_counts_requests_and_bytes_and_names_the_slow_and_missing_resources(shop: Shop) -> None:
    """10 same-origin resources are loaded once each; the 404 is a failure and the slow script is named."""
    record = await _run(shop, {"full": True, "warn": "10s"})
    result = record.result
    assert result.status is Status.WARNING, result.summary
    assert "slowest /js/slow.js" in result.summary
    assert "1 failed resource: /css/missing.css (HTTP 404 Not Found)" in result.summary
    assert "11 requests" in result.summary
    details = result.details
    assert details["requests"] == 11
    expected_bytes = _document_bytes(shop) + sum(ASSETS.values()) + len(MISSING_BODY)
    assert details["bytes"] == expected_bytes
    assert details["slowest"]["url"].endswith("/js/slow.js")
    assert details["slowest"]["seconds"] >= SLOW
    assert details["resources_seconds"] >= SLOW
    assert details["load_seconds"] >= details["document_seconds"] + SLOW
    assert [f["url"] for f in details["failed"]] == [f"http://shop.test:{shop.port}/css/missing.css"]
    assert details["skipped_cross_origin"] == [f"http://cdn.test:{shop.port}/lib/jquery.js"]
    # Each distinct resource once; nothing cross-origin, alternate or data: requested.
    assert all(shop.hits[f"shop.test{p}"] == 1 for p in ASSETS)
    assert shop.hits["cdn.test/lib/jquery.js"] == 0
    assert shop.hits["shop.test/css/high-contrast.css"] == 0
    assert shop.peak <= 6
    assert "s3cret" not in repr(details)
    assert "s3cret" not in result.summary
    values = _values(result)
    assert values["sitewatch_page_requests"] == 11
    assert values["sitewatch_page_bytes"] == expected_bytes
    assert values["sitewatch_page_failed_resources"] == 1
    assert values["sitewatch_page_load_seconds"] == pytest.approx(details["load_seconds"], abs=1e-5)


async def test_redirected_page_counts_the_redirect_and_loads_from_the_final_url(shop: Shop) -> None:
    """A redirect is one more request; resources resolve against the page it led to."""
    result = (await _run(shop, {"url": "/old-home", "full": True})).result
    assert result.details["url"] == f"http://shop.test:{shop.port}/"
    assert result.details["requests"] == 12
    assert shop.hits["shop.test/old-home"] == 1
    assert shop.hits["shop.test/css/site.css"] == 1


async def test_a_failed_resource_can_be_critical(shop: Shop) -> None:
    """failed_assets: critical turns a 404 stylesheet into a critical result."""
    result = (await _run(shop, {"full": True, "failed_assets": "critical"})).result
    assert result.status is Status.CRITICAL
    assert "/css/missing.css" in result.summary


async def test_allowed_cdn_host_is_loaded(shop: Shop) -> None:
    """allow_hosts lets a CDN resource on another host be loaded and counted."""
    result = (await _run(shop, {"full": True, "allow_hosts": ["*.example.net", "cdn.test"]})).result
    assert shop.hits["cdn.test/lib/jquery.js"] == 1
    assert result.details["requests"] == 12
    assert result.details["skipped_cross_origin"] == []
    assert result.details["bytes"] == _document_bytes(shop) + sum(ASSETS.values()) + len(MISSING_BODY) + CDN_BODY


async def test_concurrency_limits_parallel_requests(shop: Shop) -> None:
    """With concurrency: 2 the server never sees more than two resource requests at once."""
    shop.crowd_at = 3
    result = (await _run(shop, {"full": True, "concurrency": 2})).result
    assert result.details["requests"] == 11
    assert 1 <= shop.peak <= 2


async def test_document_only_reports_phases_and_ttfb(shop: Shop) -> None:
    """Without full the check loads only the document and exports every phase, TTFB and load time."""
    result = (await _run(shop, {"warn": "5s"})).result
    assert result.status is Status.OK, result.summary
    assert result.summary.startswith("page loaded in ")
    assert "(TTFB " in result.summary
    assert sum(shop.hits.values()) == 1
    values = _values(result)
    phases = {k: v for k, v in values.items() if k.startswith("probe_http_duration_seconds")}
    assert set(phases) == {f"probe_http_duration_seconds{{{p}}}" for p in PHASES}
    assert values["probe_http_duration_seconds{connect}"] > 0
    assert values["probe_http_duration_seconds{tls}"] == 0
    assert values["sitewatch_page_requests"] == 1
    assert values["sitewatch_page_bytes"] == _document_bytes(shop)
    assert "sitewatch_page_failed_resources" not in values
    assert values["sitewatch_page_ttfb_seconds"] <= values["sitewatch_page_load_seconds"]


PHASES = ("resolve", "connect", "tls", "processing", "transfer")


@pytest.mark.parametrize(
    ("settings", "status", "text"),
    [
        ({"warn": "100ms", "crit": "10s"}, Status.WARNING, "> warn 100ms"),
        ({"warn": "100ms", "crit": "150ms"}, Status.CRITICAL, "> crit 150ms"),
        ({"warn": "10s", "ttfb_warn": "100ms"}, Status.WARNING, "; TTFB > warn 100ms"),
        ({"ttfb_warn": "50ms", "ttfb_crit": "100ms"}, Status.CRITICAL, "; TTFB > crit 100ms"),
        ({"warn": "10s", "ttfb_warn": "5s"}, Status.OK, "page loaded in"),
    ],
)
async def test_thresholds_on_load_time_and_ttfb(
    shop: Shop, settings: dict[str, Any], status: Status, text: str
) -> None:
    """A page held 300 ms by the server breaches thresholds below that and names the slow part."""
    shop.page_delays = [0.3]
    result = (await _run(shop, settings)).result
    assert result.status is status, result.summary
    assert text in result.summary
    assert result.details["ttfb_seconds"] >= 0.3


async def test_samples_report_the_median(shop: Shop) -> None:
    """samples: 3 requests the page three times and reports the median, not the outlier or the fastest."""
    shop.page_delays = [0.0, 0.8, 0.25]
    result = (await _run(shop, {"samples": 3})).result
    assert shop.hits["shop.test/"] == 3
    assert result.details["samples"] == 3
    assert 0.25 <= result.details["ttfb_seconds"] < 0.8
    assert 0.25 <= _values(result)["sitewatch_page_load_seconds"] < 0.8


async def test_page_past_the_timeout_is_an_error_that_says_where(shop: Shop) -> None:
    """A page whose headers never come is an error naming the stage, returned within the timeout."""
    shop.page_delays = [None]
    record = await _run(shop, {}, seconds=0.5)
    assert record.result.status is Status.ERROR
    assert record.result.summary == (
        "page did not load within 500ms: timed out waiting for the response headers from shop.test"
    )
    assert record.duration < 1.0


async def test_resources_past_the_timeout_are_an_error(shop: Shop) -> None:
    """A resource still loading at the check's deadline makes the run an error naming it."""
    shop.extra = '<script src="/hang/tracker.js"></script>'
    record = await _run(shop, {"full": True, "asset_timeout": "30s"}, seconds=1.0)
    result = record.result
    assert result.status is Status.ERROR, result.summary
    assert "1 of 11 resources still loading (/hang/tracker.js) when the check timed out" in result.summary
    assert "sitewatch_page_load_seconds" not in _values(result)
    assert record.duration < 1.5


async def test_asset_timeout_marks_one_resource_failed(shop: Shop) -> None:
    """A resource slower than asset_timeout fails on its own; the rest of the page is still measured."""
    shop.extra = '<script src="/hang/tracker.js"></script>'
    result = (await _run(shop, {"full": True, "asset_timeout": "200ms"})).result
    assert result.status is Status.WARNING
    assert "/hang/tracker.js (no complete response within 200ms)" in result.summary
    assert result.details["requests"] == 12


async def test_resource_bigger_than_the_cap_is_cut(shop: Shop) -> None:
    """max_asset_size caps the bytes read of one resource; a big resource is not a failure."""
    shop.extra = '<script src="/big.bin"></script>'
    result = (await _run(shop, {"full": True, "max_asset_size": "10KiB"})).result
    big = next(r for r in result.details["resources"] if r["url"].endswith("/big.bin"))
    assert big["bytes"] == 10 * 1024
    assert big["truncated"] is True
    assert "error" not in big


async def test_error_page_is_critical_and_resources_are_not_loaded(shop: Shop) -> None:
    """A 503 document is critical and the check does not go on to load its resources."""
    shop.page_status = 503
    result = (await _run(shop, {"full": True})).result
    assert result.status is Status.CRITICAL
    assert result.summary.startswith("page returned HTTP 503 Service Unavailable in ")
    assert sum(shop.hits.values()) == 1


async def test_refused_connection_is_an_error() -> None:
    """Nothing listening is an error (could not measure), not a slow page."""
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    record = await run_check("pageload", {}, url=f"http://shop.test:{port}/", hosts=HOSTS)
    assert record.result.status is Status.ERROR
    assert record.result.summary.startswith(f"cannot connect to shop.test:{port}")


async def test_https_page_times_the_tls_handshake(server_ssl: ssl.SSLContext) -> None:
    """Over HTTPS the TLS phase is measured separately from connect."""
    shop = Shop(scheme="https")
    async with serve(_app(shop), ssl_context=server_ssl) as base:
        shop.port = yarl.URL(base).port or 0
        result = (await run_check("pageload", {"verify_tls": False}, url=shop.url, hosts=HOSTS)).result
    assert result.status is Status.OK, result.summary
    assert _values(result)["probe_http_duration_seconds{tls}"] > 0


async def test_metrics_share_the_http_phase_family() -> None:
    """The collector accepts pageload next to http (same phase metric labels) and renders its series."""
    checks = load_checks()
    book = ResultBook()
    book.configure([(("shop", "speed"), "pageload")])
    samples = (
        Sample("probe_http_duration_seconds", 0.25, (("phase", "processing"),)),
        Sample("sitewatch_page_load_seconds", 1.5),
    )
    book.record(RunRecord("shop", "speed", "pageload", Result(Status.OK, "ok", samples), 0.0, 1.0))
    registry = build_registry(SitewatchCollector(book, checks, logging.getLogger("test")))
    text = generate_latest(registry).decode()
    assert 'probe_http_duration_seconds{check="speed",phase="processing",site="shop"} 0.25' in text
    assert 'sitewatch_page_load_seconds{check="speed",site="shop"} 1.5' in text
