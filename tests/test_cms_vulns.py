"""Installed components judged against the snapshots the agent holds: vulnerable, current, outdated, unknown.

The check reads the book only: nothing is fetched while it runs (the feed server counts requests).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yarl
from aiohttp import web

from checks.cms.check import CmsCheck
from checks.cms.config import CmsConfig
from sitewatch.advisories import coverage
from sitewatch.config.vulns import VulnerabilitiesConfig
from sitewatch.feeds import FeedRefresher
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import AdvisoryBook, Context, Result, SiteInfo, Snapshot, SourceState, Status, parse_snapshot
from tests.advisory_feeds import cf7, kev, osv_record, wordfence_feed, wordfence_record
from tests.helpers import send_in_pieces, serve
from tests.test_cms_inventory import fixture, wp_full
from tests.test_cms_local import bitrix_tree, wordpress_classic, write

NOW = 1_800_000_000.0
OFF = "{wordpress_latest: null, wordpress_insecure: null}"  # no core version sources in these tests
DAY = 86400.0


class Clock:
    """Injected wall clock; monotonic stays real because deadlines are real."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def time(self) -> float:
        """Unix seconds."""
        return self.now

    def monotonic(self) -> float:
        """Real monotonic seconds."""
        return time.monotonic()


def book_with(*snapshots: Snapshot, failing: str | None = None) -> AdvisoryBook:
    """A book whose sources are exactly ``snapshots``' (each judging what its format covers)."""
    book = AdvisoryBook()
    book.configure({s.source: SourceState(s.source, s.format, coverage(s.format)) for s in snapshots})
    for snap in snapshots:
        book.publish(snap)
    if failing:
        for snap in snapshots:
            book.failed(snap.source, failing, NOW - 5 * DAY)
    return book


def wordfence(*records: dict[str, Any], age: float = 3600.0) -> Snapshot:
    """A Wordfence snapshot of ``records`` downloaded ``age`` seconds before NOW."""
    data = json.dumps({r["id"]: r for r in records}).encode()
    return parse_snapshot("wordfence", data, source="wordfence", fetched=NOW - age)


async def run_cms(root: Path, book: AdvisoryBook, **settings: Any) -> Result:
    """Run the check on ``root`` with ``book`` as the agent's advisories (remote fingerprinting off)."""
    resolver = ProbeResolver(static={}, fallback=None)
    session = make_session(resolver, user_agent="sitewatch-test")
    site = SiteInfo("shop", yarl.URL("http://127.0.0.1:9/"))
    sources = {"wordpress_latest": None, "wordpress_insecure": None}
    config = CmsConfig.model_validate({"root": str(root), "remote": False, "sources": sources, **settings})
    try:
        ctx = Context(session, site, "cms", 5.0, Clock(), resolver, logging.getLogger("test"), advisories=book)
        return await CmsCheck(config, site).run(ctx)
    finally:
        await session.close()


def component_samples(result: Result) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The component series of a result, keyed by (name, labels)."""
    return {(s.name, s.labels): s.value for s in result.samples if "component" in s.name}


def wp_site(tmp_path: Path, cf7_version: str = "5.3.1") -> Path:
    """WordPress: Akismet, Contact Form 7 at ``cf7_version``, a single-file plugin, an mu-plugin, a drop-in, themes."""
    wordpress_classic(tmp_path, "6.4.2")
    wp_full(tmp_path / "wp-content")
    header = fixture("wp-contact-form-7.php").replace(b"5.3.1", cf7_version.encode())
    write(tmp_path / "wp-content" / "plugins" / "contact-form-7" / "wp-contact-form-7.php", header)
    return tmp_path


async def test_cf7_531_is_vulnerable_with_cve_and_fix(tmp_path: Path) -> None:
    """Contact Form 7 5.3.1 is CVE-2020-35489 (CVSS 10.0), fixed in 5.3.2: critical, named, measured."""
    result = await run_cms(wp_site(tmp_path), book_with(wordfence(cf7())))
    assert result.status is Status.CRITICAL
    assert "contact-form-7 5.3.1: CVE-2020-35489 (CVSS 10.0), fixed in 5.3.2" in result.summary
    assert "1 of 5 plugins and themes vulnerable" in result.summary
    assert result.priority is None  # not known to be exploited: the severity matrix decides
    found = component_samples(result)
    labels = (("kind", "plugin"), ("component", "contact-form-7"), ("version", "5.3.1"), ("state", "vulnerable"))
    assert found[("sitewatch_cms_component_info", labels)] == 1
    assert found[("sitewatch_cms_vulnerable_components", ())] == 1
    assert sum(1 for name, _ in found if name == "sitewatch_cms_component_info") == 1  # current ones: no series
    vulns = result.details["vulnerabilities"]
    assert vulns["vulnerable"][0]["fixed_in"] == "5.3.2"
    assert vulns["vulnerable"][0]["advisories"][0]["cve"] == "CVE-2020-35489"
    assert vulns["update"] == {"contact-form-7": "5.3.1: CVE-2020-35489 (CVSS 10.0), fixed in 5.3.2"}
    assert next(iter(result.details)) == "vulnerabilities"  # first in a ticket's evidence
    states = {c["name"]: c["state"] for c in result.details["local"]["components"]}
    assert states == {
        "akismet": "current",
        "contact-form-7": "vulnerable",
        "hello-dolly": "current",
        "host-tweaks": "unknown",  # mu-plugins are not on wordpress.org: no feed files them
        "object-cache.php": "unknown",
        "twentytwentyone": "current",
        "tt1-child": "current",
    }


async def test_cf7_532_is_current(tmp_path: Path) -> None:
    """The fixed release 5.3.2 matches no range: current, status ok, no info series."""
    result = await run_cms(wp_site(tmp_path, "5.3.2"), book_with(wordfence(cf7())))
    assert result.status is Status.OK
    assert "no known vulnerable plugins and themes (5 checked)" in result.summary
    assert result.details["vulnerabilities"]["counts"]["vulnerable"] == 0
    assert component_samples(result)[("sitewatch_cms_vulnerable_components", ())] == 0


async def test_outdated_when_the_data_names_a_newer_fix(tmp_path: Path) -> None:
    """Below a fix whose advisory starts later, a plugin is outdated (a newer release exists), not vulnerable."""
    later = wordfence_record("b-1", "contact-form-7", "CF7 5.8 - 5.9.1 XSS", from_version="5.8", to_version="5.9.1")
    later["software"][0]["patched_versions"] = ["5.9.2"]
    result = await run_cms(wp_site(tmp_path, "5.3.2"), book_with(wordfence(later)))
    assert result.status is Status.OK
    assert "1 outdated" in result.summary
    assert result.details["vulnerabilities"]["outdated"][0]["newer"] == "5.9.2"


async def test_stale_snapshot_is_unknown_never_no_vulnerabilities(tmp_path: Path) -> None:
    """A snapshot past max_snapshot_age judges nothing current: unknown, a warning, and the summary says why."""
    book = book_with(wordfence(cf7(), age=10 * DAY), failing="HTTP 503 from http://127.0.0.1/feed")
    result = await run_cms(wp_site(tmp_path, "5.3.2"), book, components={"max_snapshot_age": "7d"})
    assert result.status is Status.WARNING
    assert "no known vulnerable" not in result.summary
    assert "wordfence snapshot is 10d old (max_snapshot_age 7d)" in result.summary
    assert "last refresh failed: HTTP 503" in result.summary
    assert result.details["vulnerabilities"]["counts"]["current"] == 0
    assert result.details["vulnerabilities"]["counts"]["unknown"] == 7


async def test_stale_status_ok_leaves_the_alert_to_the_agent_metric(tmp_path: Path) -> None:
    """With stale_status: ok, stale data still makes components unknown and says so, without a warning per site."""
    book = book_with(wordfence(cf7(), age=10 * DAY))
    result = await run_cms(wp_site(tmp_path, "5.3.2"), book, components={"stale_status": "ok"})
    assert result.status is Status.OK
    assert "wordfence snapshot is 10d old" in result.summary
    assert result.details["vulnerabilities"]["counts"]["current"] == 0


async def test_stale_snapshot_still_proves_a_listed_vulnerability(tmp_path: Path) -> None:
    """Old data that lists the installed version is still a finding: vulnerable stays vulnerable."""
    result = await run_cms(wp_site(tmp_path), book_with(wordfence(cf7(), age=10 * DAY)))
    assert result.status is Status.CRITICAL
    assert "CVE-2020-35489" in result.summary


async def test_first_download_pending_is_said_not_warned(tmp_path: Path) -> None:
    """A configured source with no snapshot yet and no failure (a fresh start) is unknown without a warning."""
    book = AdvisoryBook()
    book.configure({"wordfence": SourceState("wordfence", "wordfence", coverage("wordfence"))})
    result = await run_cms(wp_site(tmp_path), book)
    assert result.status is Status.OK
    assert "no snapshot from wordfence yet (first download pending)" in result.summary
    book.failed("wordfence", "HTTP 403 from http://127.0.0.1/feed", NOW)
    failing = await run_cms(wp_site(tmp_path), book)
    assert failing.status is Status.WARNING
    assert "no snapshot from wordfence yet (last refresh failed: HTTP 403" in failing.summary


async def test_no_source_configured_says_so(tmp_path: Path) -> None:
    """Without any vulnerability source the components are unknown and the details say none is configured."""
    result = await run_cms(wp_site(tmp_path), AdvisoryBook())
    assert result.status is Status.OK  # the feature is opt-in: missing config is said in the details, not alerted
    assert result.summary == "WordPress 6.4.2"
    problems = result.details["vulnerabilities"]["problems"]
    assert "WordPress plugins not judged: no vulnerability source configured for WordPress plugins" in problems
    assert result.details["vulnerabilities"]["counts"]["unknown"] == 7


async def test_known_exploited_is_critical_p1(tmp_path: Path) -> None:
    """A CVE on a KEV list makes even a medium-scored match critical and asks for P1."""
    medium = wordfence_record("m-1", "contact-form-7", "CF7 <= 5.3.1 XSS", cve="CVE-2020-35489")
    medium["cvss"] = {"vector": "", "score": 6.1, "rating": "Medium"}
    listed = parse_snapshot("kev", kev("CVE-2020-35489"), source="kev", fetched=NOW)
    result = await run_cms(wp_site(tmp_path), book_with(wordfence(medium), listed))
    assert result.status is Status.CRITICAL
    assert result.priority == "P1"
    assert "(CVSS 6.1, exploited)" in result.summary


async def test_the_exploited_advisory_is_named_first(tmp_path: Path) -> None:
    """Of two matches, the exploited one (KEV) leads the headline even when the other scores higher."""
    xss = wordfence_record("x-1", "contact-form-7", "CF7 <= 5.3.1 XSS", cve="CVE-2020-11111")
    xss["cvss"] = {"vector": "", "score": 6.1, "rating": "Medium"}
    listed = parse_snapshot("kev", kev("CVE-2020-11111"), source="kev", fetched=NOW)
    result = await run_cms(wp_site(tmp_path), book_with(wordfence(cf7(), xss), listed))
    assert "contact-form-7 5.3.1: CVE-2020-11111 (CVSS 6.1, exploited) +1 more, fixed in 5.3.2" in result.summary
    assert result.details["vulnerabilities"]["vulnerable"][0]["cvss"] == 10.0  # the worst score is still kept


async def test_cvss_thresholds_are_configurable(tmp_path: Path) -> None:
    """With cvss_critical above the score, a match is a warning; below cvss_warning only listed."""
    book = book_with(wordfence(cf7()))
    warned = await run_cms(wp_site(tmp_path), book, components={"cvss_critical": 10.0, "cvss_warning": 4.0})
    assert warned.status is Status.CRITICAL  # 10.0 >= 10.0
    medium = wordfence_record("m-2", "contact-form-7", "CF7 XSS")
    medium["cvss"] = {"vector": "", "score": 5.3, "rating": "Medium"}
    listed = await run_cms(wp_site(tmp_path), book_with(wordfence(medium)), components={"cvss_warning": 6.0})
    assert listed.status is Status.OK
    assert "1 of 5 plugins and themes vulnerable" in listed.summary


async def test_bitrix_old_vote_module_from_the_shipped_list(tmp_path: Path) -> None:
    """vote 21.0.99 matches the shipped curated CVE-2022-27228 (exploited): critical, P1, fixed in 21.0.100."""
    bitrix_tree(tmp_path, modules={"vote": ("array", "21.0.99"), "iblock": ("short", "23.0.0")})
    result = await run_cms(tmp_path, AdvisoryBook())
    assert result.status is Status.CRITICAL
    assert result.priority == "P1"
    assert "vote 21.0.99: CVE-2022-27228 (CVSS 9.8, exploited), fixed in 21.0.100" in result.summary
    assert result.details["vulnerabilities"]["sources"]["shipped-bitrix"].endswith("1 records")


async def test_magento_extension_from_composer_lock_via_osv(tmp_path: Path) -> None:
    """A third-party package in composer.lock below an OSV fix is vulnerable with its id and fixed version."""
    write(tmp_path / "composer.lock", fixture("composer.lock.json"))
    write(tmp_path / "app" / "etc" / "env.php", "<?php return [];\n")
    record = osv_record("GHSA-test-smtp-0001", "mageplaza/module-smtp", "0", "4.7.2", severity="HIGH")
    osv = parse_snapshot("osv", json.dumps([record]).encode(), source="osv-packagist", fetched=NOW - DAY)
    result = await run_cms(tmp_path, book_with(osv), cms="magento")
    assert result.status is Status.WARNING  # rated high (7.0), under the default cvss_critical 9.0
    assert "mageplaza/module-smtp 4.7.1: GHSA-test-smtp-0001 (high), fixed in 4.7.2" in result.summary


@pytest.fixture
async def feed_server() -> AsyncIterator[tuple[list[str], str]]:
    """A Wordfence feed (several MB, the CF7 record included) served gzip'd in many pieces; logs each request."""
    hits: list[str] = []
    body = wordfence_feed(records=3_000)

    async def handle(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        return await send_in_pieces(request, body, content_type="application/json", pieces=400)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    async with serve(app) as base:
        yield hits, f"{base}/api/intelligence/v3/vulnerabilities/production"


async def test_refreshed_by_the_agent_and_nothing_fetched_during_the_check(
    tmp_path: Path, feed_server: tuple[list[str], str]
) -> None:
    """The refresher downloads once; the check then judges from the book and makes no request of its own."""
    hits, url = feed_server
    book = AdvisoryBook()
    feeds = FeedRefresher(book, logging.getLogger("test"), Clock(), tmp_path / "state")
    feeds.configure(
        VulnerabilitiesConfig.model_validate({"sources": {"wordfence": {"format": "wordfence", "url": url}}})
    )
    try:
        assert await feeds.refresh("wordfence")
    finally:
        await feeds.close()
    assert len(hits) == 1
    result = await run_cms(wp_site(tmp_path / "site"), book)
    assert "contact-form-7 5.3.1: CVE-2020-35489 (CVSS 10.0), fixed in 5.3.2" in result.summary
    assert len(hits) == 1


async def test_sitewatch_probe_judges_from_the_agents_cache(tmp_path: Path, feed_server: tuple[list[str], str]) -> None:
    """`sitewatch probe` reads the snapshots the agent cached in its state dir and downloads nothing itself."""
    from sitewatch.cli.probe import probe_all
    from sitewatch.config.loader import load_config

    hits, url = feed_server
    site = wp_site(tmp_path / "site")
    path = tmp_path / "config.yaml"
    path.write_text(
        f"agent: {{state_dir: {tmp_path}}}\n"
        f"vulnerabilities: {{sources: {{wordfence: {{format: wordfence, url: '{url}'}}}}}}\n"
        "sites:\n  - name: blog\n    url: http://127.0.0.1:9/\n    checks:\n"
        f"      - {{type: cms, root: {site}, remote: false, sources: {OFF}}}\n",
        encoding="utf-8",
    )
    config = load_config(path)
    agent_side = FeedRefresher(
        AdvisoryBook(), logging.getLogger("test"), Clock(time.time()), tmp_path / "vulnerabilities"
    )
    agent_side.configure(config.vulnerabilities)
    try:
        assert await agent_side.refresh("wordfence")
    finally:
        await agent_side.close()
    (record,) = await probe_all(config, list(config.checks), logging.getLogger("test"))
    assert "contact-form-7 5.3.1: CVE-2020-35489 (CVSS 10.0), fixed in 5.3.2" in record.result.summary
    assert len(hits) == 1  # the agent side's download only
