"""Each hostile target through the real ``http`` check: it ends in time, as error/critical, with a reason.

Two bodies are the exception by design: an endless or bomb-sized body is read up to ``max_body``
and judged on what was read (a page bigger than the cap is not, by itself, an outage), so these
tests assert the cap and bounded memory instead of a failing status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sitewatch.probe import Status
from tests.helpers import run_check
from tests.reliability.hostile_server import BOMB_SIZE, HangingResolver, HostileServer

TIMEOUT = 1.5
MAX_BODY = 1024 * 1024


def rss_kib(field: str = "VmRSS") -> int:
    """Resident memory of this process in KiB, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> None:
    """Reset VmHWM (peak RSS) so the next reading is this test's peak, not an earlier one's."""
    Path("/proc/self/clear_refs").write_text("5")


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    async with HostileServer() as hostile:
        yield hostile


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/slow-headers", Status.ERROR, "timed out after 1.5s waiting for the response headers"),
        ("/drip", Status.ERROR, "timed out after 1.5s reading the body"),
        ("/huge-headers", Status.ERROR, "invalid HTTP response from shop.test:"),
        ("/garbage", Status.ERROR, "invalid HTTP response from shop.test:"),
        ("/reset", Status.ERROR, "response body from shop.test:"),
        ("/loop/a", Status.CRITICAL, "redirect loop: http://shop.test:"),
        ("/chain/0?hops=50", Status.CRITICAL, "more than 10 redirects (last: http://shop.test:"),
    ],
)
async def test_hostile_target_fails_in_time_with_a_reason(
    server: HostileServer, path: str, status: Status, words: str
) -> None:
    """A broken response ends as error/critical naming what broke, within timeout + 1 s."""
    url = f"http://shop.test:{server.port}{path}"
    record = await run_check("http", {}, url=url, timeout=TIMEOUT, hosts={"shop.test": ["127.0.0.1"]})
    assert record.result.status is status, record.result.summary
    assert words in record.result.summary
    assert record.duration <= TIMEOUT + 1.0


async def test_fifty_hop_chain_is_followed_when_allowed(server: HostileServer) -> None:
    """With max_redirects: 50 a 50-hop chain ends at the page, counted, well within the timeout."""
    url = f"http://shop.test:{server.port}/chain/0?hops=50"
    record = await run_check(
        "http", {"max_redirects": 50}, url=url, timeout=TIMEOUT, hosts={"shop.test": ["127.0.0.1"]}
    )
    assert record.result.status is Status.OK, record.result.summary
    assert len(record.result.details["redirects"]) == 50
    assert record.duration <= TIMEOUT + 1.0


async def test_silent_tls_port_times_out_in_the_handshake(server: HostileServer) -> None:
    """A TLS port that accepts and never handshakes is an error naming the handshake."""
    url = f"https://shop.test:{server.tls_port}/"
    record = await run_check("http", {}, url=url, timeout=TIMEOUT, hosts={"shop.test": ["127.0.0.1"]})
    assert record.result.status is Status.ERROR
    assert "timed out after 1.5s in the TLS handshake" in record.result.summary
    assert record.duration <= TIMEOUT + 1.0


async def test_dns_that_never_answers_costs_only_the_timeout() -> None:
    """A name whose lookup never answers is an error naming the lookup, and the lookup is abandoned."""
    resolver = HangingResolver({})
    record = await run_check("http", {}, url="http://blackhole.test/", timeout=TIMEOUT, resolver=resolver)
    assert record.result.status is Status.ERROR
    assert "timed out after 1.5s resolving the name (blackhole.test)" in record.result.summary
    assert record.duration <= TIMEOUT + 1.0
    assert resolver.hanging == 0  # the pending lookup was cancelled, not left behind


@pytest.mark.parametrize("path", ["/endless", "/endless-chunked", "/gzip-bomb"])
async def test_endless_and_bomb_bodies_are_capped(server: HostileServer, path: str) -> None:
    """Bodies that never end or inflate to 200 MB are read up to max_body only; memory stays flat."""
    rss_before = rss_kib()
    reset_peak_rss()
    url = f"http://shop.test:{server.port}{path}"
    record = await run_check("http", {"max_body": "1MiB"}, url=url, timeout=TIMEOUT, hosts={"shop.test": ["127.0.0.1"]})
    growth_mib = (rss_kib("VmHWM") - rss_before) / 1024
    assert record.result.summary.startswith("HTTP 200 OK in "), record.result.summary
    assert record.result.details["body_bytes"] == MAX_BODY  # read exactly up to the cap ...
    assert record.result.details["body_truncated"] is True  # ... and said so
    assert growth_mib < 64, f"peak RSS grew {growth_mib:.0f} MiB (bomb inflates to {BOMB_SIZE >> 20} MiB)"
    assert record.duration <= TIMEOUT + 1.0
