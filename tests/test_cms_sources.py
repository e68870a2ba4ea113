"""Latest/insecure sources on a local server: judging, disk cache, refresh, outage and garbage."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yarl
from aiohttp import web

from checks.cms import advisories
from checks.cms.check import CmsCheck
from checks.cms.config import CmsConfig
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import Context, Result, SiteInfo, Status
from tests.helpers import run_check, serve
from tests.test_cms_local import magento2_tree, wordpress_classic

HOUR = 3600.0


class Clock:
    """Injected wall clock; monotonic stays real because deadlines are real."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def time(self) -> float:
        """Unix seconds, advanced by the test."""
        return self.now

    def monotonic(self) -> float:
        """Real monotonic seconds."""
        return time.monotonic()


class Feeds:
    """Emulates the WordPress.org version-check and stable-check APIs and a Magento releases file."""

    def __init__(self) -> None:
        self.mode = "ok"  # ok | down | garbage | shape | hang
        self.hits: Counter[str] = Counter()
        self.magento: Any = {"2.4": "2.4.7-p3", "2.3": "2.3.7-p4"}
        self.never = asyncio.Event()
        self.queries: list[Any] = []

    async def osv(self, request: web.Request) -> web.Response:
        """An OSV /v1/query: 2.4.7 has two advisories, anything else none ({})."""
        self.queries.append(await request.json())
        if self.mode == "garbage":
            return web.json_response({"vulns": "nope"})
        if self.queries[-1]["version"] != "2.4.7":
            return web.json_response({})
        vulns = [
            {"id": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2024-34102"]},
            {"id": "PKSA-1234", "aliases": []},
        ]
        return web.json_response({"vulns": vulns})

    async def handle(self, request: web.Request) -> web.Response:
        """Answer per ``mode``."""
        self.hits[request.path] += 1
        if self.mode == "down":
            return web.Response(status=503, text="maintenance")
        if self.mode == "garbage":
            return web.Response(text="<html>Error establishing a database connection</html>")
        if self.mode == "hang":
            await self.never.wait()
        if request.path.startswith("/core/version-check"):
            doc: Any = {"offers": [{"response": "upgrade", "version": "6.4.2", "locale": "en_US"}]}
            return web.json_response({"offers": []} if self.mode == "shape" else doc)
        if request.path.startswith("/core/stable-check"):
            return web.json_response({"6.1.1": "insecure", "6.3.2": "outdated", "6.4.2": "latest"})
        return web.json_response(self.magento)


@pytest.fixture
async def feeds() -> AsyncIterator[tuple[Feeds, dict[str, str]]]:
    """A running source server and the ``sources:`` settings pointing at it."""
    state = Feeds()
    app = web.Application()
    app.router.add_post("/v1/query", state.osv)
    app.router.add_get("/{tail:.*}", state.handle)
    async with serve(app) as base:
        yield (
            state,
            {
                "wordpress_latest": f"{base}/core/version-check/1.7/",
                "wordpress_insecure": f"{base}/core/stable-check/1.0/",
                "magento_latest": f"{base}/magento.json",
                "magento_advisories": f"{base}/v1/query",
            },
        )
        state.never.set()


async def run_cms(settings: Mapping[str, Any] | CmsConfig, clock: Clock | None = None, budget: float = 5.0) -> Result:
    """Run the check directly with an injected clock (remote fingerprinting off)."""
    resolver = ProbeResolver(static={}, fallback=None)
    session = make_session(resolver, user_agent="sitewatch-test")
    site = SiteInfo("shop", yarl.URL("http://127.0.0.1:9/"))
    try:
        config = (
            settings if isinstance(settings, CmsConfig) else CmsConfig.model_validate({"remote": False, **settings})
        )
        check = CmsCheck(config, site)
        ctx = Context(session, site, "cms", budget, clock or Clock(), resolver, logging.getLogger("test"))
        return await check.run(ctx)
    finally:
        await session.close()


def samples(result: Result) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Samples keyed by (name, labels)."""
    return {(s.name, s.labels): s.value for s in result.samples}


def wp(tmp_path: Path, version: str, sources: Mapping[str, str], **extra: Any) -> dict[str, Any]:
    """Settings for a WordPress install of ``version`` with its own cache dir."""
    root = wordpress_classic(tmp_path / "site", version)
    return {"root": str(root), "sources": sources, "cache_dir": str(tmp_path / "cache"), **extra}


@pytest.mark.parametrize(
    ("version", "status", "summary"),
    [
        (
            "6.1.1",
            Status.CRITICAL,
            "WordPress 6.1.1 is insecure (latest 6.4.2, listed as insecure by the stable-check source)",
        ),
        ("6.3.2", Status.WARNING, "WordPress 6.3.2 is outdated (latest 6.4.2)"),
        ("6.4.2", Status.OK, "WordPress 6.4.2 is current (latest 6.4.2)"),
    ],
)
async def test_wordpress_verdicts(tmp_path: Path, feeds: Any, version: str, status: Status, summary: str) -> None:
    """Insecure is critical, older than latest a warning, latest ok; metrics say the same."""
    _, sources = feeds
    result = await run_cms(wp(tmp_path, version, sources))
    assert (result.status, result.summary) == (status, summary)
    got = samples(result)
    assert got[("sitewatch_cms_info", (("cms", "wordpress"), ("version", version), ("source", "local")))] == 1
    assert got[("sitewatch_cms_latest_info", (("cms", "wordpress"), ("version", "6.4.2")))] == 1
    assert got[("sitewatch_cms_insecure", ())] == (1.0 if status is Status.CRITICAL else 0.0)
    assert got[("sitewatch_cms_outdated", ())] == (0.0 if status is Status.OK else 1.0)
    assert got[("sitewatch_cms_source_age_seconds", (("source", "wordpress_latest"),))] == 0


async def test_answers_are_cached_until_refresh_is_due(tmp_path: Path, feeds: Any) -> None:
    """Within the 12 h default nothing is re-fetched; after it, one refresh per source."""
    state, sources = feeds
    clock = Clock()
    settings = wp(tmp_path, "6.4.2", sources)
    await run_cms(settings, clock)
    clock.now += 11 * HOUR
    await run_cms(settings, clock)
    assert state.hits["/core/version-check/1.7/"] == 1
    clock.now += 2 * HOUR
    await run_cms(settings, clock)
    assert state.hits["/core/version-check/1.7/"] == 2
    assert state.hits["/core/stable-check/1.0/"] == 2
    assert list((tmp_path / "cache").glob("*.json"))


async def test_outage_keeps_last_answer_across_restart(tmp_path: Path, feeds: Any) -> None:
    """With the source down, the last answer (from disk after a restart) is used and its age reported."""
    state, sources = feeds
    clock = Clock()
    settings = wp(tmp_path, "6.3.2", sources)
    await run_cms(settings, clock)
    advisories._MEMORY.clear()  # an agent restart: only the disk cache remains
    state.mode = "down"
    clock.now += 13 * HOUR
    result = await run_cms(settings, clock)
    assert (result.status, result.summary) == (Status.WARNING, "WordPress 6.3.2 is outdated (latest 6.4.2)")
    assert result.details["sources"]["wordpress_latest"] == "13h old (last refresh failed: HTTP 503)"
    assert samples(result)[("sitewatch_cms_source_age_seconds", (("source", "wordpress_latest"),))] == 13 * HOUR


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("garbage", "answer is not JSON"),
        ("shape", "unexpected answer: no offers[0].version in the answer"),
        ("down", "HTTP 503"),
    ],
)
async def test_never_known_latest_is_unknown_not_current(tmp_path: Path, feeds: Any, mode: str, error: str) -> None:
    """A source that never answered usefully leaves 'latest unknown' (ok), never 'current'."""
    state, sources = feeds
    state.mode = mode
    result = await run_cms(wp(tmp_path, "6.3.2", sources))
    assert result.status is Status.OK
    assert result.summary.startswith("WordPress 6.3.2")
    assert "current" not in result.summary
    assert result.details["sources"]["wordpress_latest"] == f"unknown (last refresh failed: {error})"
    assert not any(s.name == "sitewatch_cms_latest_info" for s in result.samples)
    assert result.details["state"] == "unknown"
    got = samples(result)
    assert got[("sitewatch_cms_latest_known", ())] == 0
    assert ("sitewatch_cms_outdated", ()) not in got  # an alert on outdated == 0 must not read "fine"


async def test_unknown_latest_warns_after_latest_unknown_warn_across_a_restart(tmp_path: Path, feeds: Any) -> None:
    """Failing since the first run: ok (unknown) for under 3 days, then a warning; the start survives a restart."""
    state, sources = feeds
    state.mode = "down"
    clock = Clock()
    settings = wp(tmp_path, "6.4.2", sources)
    first = await run_cms(settings, clock)
    assert (first.status, first.details["state"]) == (Status.OK, "unknown")
    advisories._MEMORY.clear()  # an agent restart: "failing since" comes back from the cache file
    clock.now += 2 * 86400
    assert (await run_cms(settings, clock)).status is Status.OK
    clock.now += 1.1 * 86400
    late = await run_cms(settings, clock)
    assert late.status is Status.WARNING
    assert "source wordpress_latest failing (HTTP 503); latest unknown" in late.summary
    assert late.details["state"] == "unknown"
    state.mode = "ok"
    clock.now += 3600  # past `retry`: the source is asked again and answers
    back = await run_cms(settings, clock)
    assert (back.status, back.details["state"]) == (Status.OK, "current")
    assert samples(back)[("sitewatch_cms_latest_known", ())] == 1
    assert samples(back)[("sitewatch_cms_outdated", ())] == 0


async def test_failed_refresh_backs_off_then_warns_when_unknown_too_long(tmp_path: Path, feeds: Any) -> None:
    """A failure is retried after `retry`, not every run; unknown for longer than the limit is a warning."""
    state, sources = feeds
    state.mode = "down"
    clock = Clock()
    settings = wp(tmp_path, "6.4.2", sources, retry="10m", latest_unknown_warn="1d")
    await run_cms(settings, clock)
    clock.now += 60
    await run_cms(settings, clock)
    assert state.hits["/core/version-check/1.7/"] == 1
    clock.now += 2 * 86400
    result = await run_cms(settings, clock)
    assert state.hits["/core/version-check/1.7/"] == 2
    assert result.status is Status.WARNING
    assert "source wordpress_latest failing (HTTP 503); latest unknown" in result.summary


async def test_hanging_source_never_outlasts_the_check_timeout(tmp_path: Path, feeds: Any) -> None:
    """A source that never answers costs at most the check's timeout, and the result is still useful."""
    state, sources = feeds
    state.mode = "hang"
    started = time.monotonic()
    result = await run_cms(wp(tmp_path, "6.4.2", sources, source_timeout="30s"), budget=1.0)
    assert time.monotonic() - started < 1.0
    assert result.details["version"] == "6.4.2"
    assert "no answer within" in result.details["sources"]["wordpress_latest"]


@pytest.mark.parametrize(
    ("doc", "installed", "expected"),
    [
        ({"2.4": "2.4.7-p3", "2.3": "2.3.7-p4"}, "2.4.7", (Status.WARNING, "2.4.7-p3")),
        ({"2.4": "2.4.7-p3", "2.3": "2.3.7-p4"}, "2.3.7-p4", (Status.OK, "2.3.7-p4")),
        ([{"name": "2.4.8-beta1"}, {"name": "2.4.7-p3"}, {"name": "2.4.7"}], "2.4.7-p3", (Status.OK, "2.4.7-p3")),
        (["2.4.6-p5", "2.4.6-p6"], "2.4.6-p5", (Status.WARNING, "2.4.6-p6")),
    ],
)
async def test_magento_latest_per_release_line(
    tmp_path: Path, feeds: Any, doc: Any, installed: str, expected: tuple[Status, str]
) -> None:
    """Magento is judged against the newest release of its own line (-pN patches count, betas do not)."""
    state, sources = feeds
    state.magento = doc
    root = magento2_tree(tmp_path / "shop", "community", installed)
    latest_only = {k: v for k, v in sources.items() if k != "magento_advisories"}
    result = await run_cms({"root": str(root), "sources": latest_only, "cache_dir": str(tmp_path / "c")})
    assert (result.status, result.details["latest"]) == expected


async def test_slow_site_leaves_time_for_sources(tmp_path: Path, feeds: Any) -> None:
    """A site that never answers costs part of the timeout; sources still refresh and judge the local version."""
    _, sources = feeds
    never = asyncio.Event()

    async def hang(_: web.Request) -> web.Response:
        await never.wait()
        return web.Response()  # pragma: no cover - the client gives up first

    app = web.Application()
    app.router.add_get("/{tail:.*}", hang)
    root = wordpress_classic(tmp_path / "site", "6.3.2")
    async with serve(app) as base:
        started = time.monotonic()
        record = await run_check(
            "cms",
            {"root": str(root), "sources": sources, "cache_dir": str(tmp_path / "c")},
            url=base + "/",
            timeout=1.5,
        )
        elapsed = time.monotonic() - started
        never.set()
    assert elapsed < 1.5
    assert record.result.summary == "WordPress 6.3.2 is outdated (latest 6.4.2)"
    assert "no complete answer within" in record.result.details["remote_error"]


async def test_metrics_read_back_through_the_registry(tmp_path: Path, feeds: Any) -> None:
    """The samples render through the agent's real collector with site and check labels."""
    from sitewatch.config.registry import load_checks
    from sitewatch.engine.results import ResultBook
    from sitewatch.web.metrics import SitewatchCollector
    from sitewatch.web.registry import build_registry

    _, sources = feeds
    record = await run_check("cms", {**wp(tmp_path, "6.1.1", sources), "remote": False})
    book = ResultBook()
    book.configure([(record.key, "cms")])
    book.record(record)
    registry = build_registry(SitewatchCollector(book, load_checks(), logging.getLogger("test")))
    labels = {"site": "site", "check": "cms"}
    info = {**labels, "cms": "wordpress", "version": "6.1.1", "source": "local"}
    assert registry.get_sample_value("sitewatch_cms_info", info) == 1
    assert registry.get_sample_value("sitewatch_cms_insecure", labels) == 1
    assert registry.get_sample_value("sitewatch_cms_latest_info", {**labels, "cms": "wordpress", "version": "6.4.2"})
    age = registry.get_sample_value("sitewatch_cms_source_age_seconds", {**labels, "source": "wordpress_insecure"})
    assert age is not None
    assert 0 <= age < 60


async def test_osv_advisories_make_magento_insecure(tmp_path: Path, feeds: Any) -> None:
    """An OSV query for the exact installed version: advisories are critical; none is fine; garbage is ignored."""
    state, sources = feeds
    vulnerable = magento2_tree(tmp_path / "a", "community", "2.4.7")
    result = await run_cms({"root": str(vulnerable), "sources": sources, "cache_dir": str(tmp_path / "c")})
    assert result.status is Status.CRITICAL
    assert result.summary == "Magento 2.4.7 is insecure (latest 2.4.7-p3, 2 advisories: CVE-2024-34102, PKSA-1234)"
    assert state.queries == [
        {"package": {"ecosystem": "Packagist", "name": "magento/community-edition"}, "version": "2.4.7"}
    ]
    patched = magento2_tree(tmp_path / "b", "community", "2.4.7-p3")
    fine = await run_cms({"root": str(patched), "sources": sources, "cache_dir": str(tmp_path / "c")})
    assert (fine.status, fine.summary) == (Status.OK, "Magento 2.4.7-p3 is current (latest 2.4.7-p3)")
    state.mode = "garbage"
    odd = await run_cms({"root": str(vulnerable), "sources": sources, "cache_dir": str(tmp_path / "d")})
    assert "unexpected answer" in odd.details["sources"]["magento_advisories"]
