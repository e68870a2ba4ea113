"""cms detection against real-world shapes: theme decoys, plain permalinks, Adobe Commerce, symlink loops, fleets."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yarl
from aiohttp import web

from checks.cms import advisories
from checks.cms.check import CmsCheck
from checks.cms.config import CmsConfig
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import Context, SiteInfo, Status, SystemClock
from tests.cms_pages import rss_feed, stable_check, version_check, wordpress_front_page
from tests.helpers import run_check, send_in_pieces, serve
from tests.test_cms_local import bitrix_tree, composer_lock, wordpress_classic, write

NO_SOURCES = {"wordpress_latest": None, "wordpress_insecure": None, "magento_latest": None}


def wordpress_site(*, feed_at_query: bool, generator: bool = False) -> web.Application:
    """Debian WordPress 6.1.9, generator meta removed, emoji disabled; plain permalinks (no /feed/)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        base = f"http://{request.host}"
        if request.path != "/":
            return web.Response(status=404, text="<html>Page not found</html>", content_type="text/html")
        if "feed" in request.query:
            if not feed_at_query or request.query["feed"] != "rss2":
                return web.Response(status=404, text="not found")
            return await send_in_pieces(request, rss_feed("6.1.9"), content_type="application/rss+xml; charset=UTF-8")
        return await send_in_pieces(request, wordpress_front_page(base, "6.1.9", generator=generator))

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return app


async def test_classic_themes_ver_1_is_no_vote_for_wordpress_1() -> None:
    """`classic-themes.min.css?ver=1` (its own revision) is not WordPress "1"; block-library names 6.1.9."""
    async with serve(wordpress_site(feed_at_query=False)) as base:
        record = await run_check("cms", {"sources": NO_SOURCES}, url=base + "/")
    remote = record.result.details["remote"]
    assert remote["scores"] == {"6.1.9": 40}
    assert record.result.details["version"] == "6.1.9"


async def test_plain_permalinks_feed_advertised_by_the_page_is_followed() -> None:
    """No /feed/ (plain permalinks): the `<link rel="alternate">` feed `/?feed=rss2` gives the generator."""
    async with serve(wordpress_site(feed_at_query=True)) as base:
        record = await run_check("cms", {"sources": NO_SOURCES}, url=base + "/")
    remote = record.result.details["remote"]
    assert "feed generator" in remote["signals"]
    assert remote["scores"] == {"6.1.9": 80 + 40}
    assert remote["confidence"] == 100


def test_adobe_commerce_lock_with_both_metapackages_is_enterprise(tmp_path: Path) -> None:
    """Adobe Commerce's composer.lock lists community (first, as composer sorts) and enterprise: enterprise wins."""
    from checks.cms import magento

    packages = [
        ("magento/module-catalog", "104.0.7-p3"),
        ("magento/product-community-edition", "2.4.7-p3"),
        ("magento/product-enterprise-edition", "2.4.7-p3"),
    ]
    write(tmp_path / "composer.lock", composer_lock(packages))
    found = magento.detect_local(tmp_path)
    assert found is not None
    assert (found.edition, str(found.version)) == ("enterprise", "2.4.7-p3")


@pytest.mark.parametrize("kind", ["wordpress", "bitrix"])
async def test_symlink_loop_at_the_root_is_a_finding_for_that_path_only(tmp_path: Path, kind: str) -> None:
    """`current -> current` at the root: every CMS is still detected; the loop is named once, as that path."""
    root = tmp_path / "www"
    if kind == "wordpress":
        wordpress_classic(root, "6.4.2")
    else:
        bitrix_tree(root, "23.850.0")
    os.symlink("current", root / "current")
    settings = {"root": str(root), "remote": False, "sources": NO_SOURCES, "cache_dir": str(tmp_path / "c")}
    record = await run_check("cms", settings)
    result = record.result
    assert result.status is Status.OK, result.summary
    assert result.details["cms"] == kind
    if kind == "bitrix":  # WordPress is looked for first, in current/ too: the loop is met and noted
        assert result.details["unreadable"] == {str(root / "current"): "symlink loop"}
        assert result.summary.endswith("; could not read current (symlink loop)")


async def test_twenty_sites_sharing_two_sources_make_two_requests(tmp_path: Path, caplog: Any) -> None:
    """20 sites checked at once, one cache dir: one request per source URL, and the cache is written whole."""
    hits: Counter[str] = Counter()

    async def answer(request: web.Request) -> web.StreamResponse:
        hits[request.path] += 1
        doc = version_check() if "version-check" in request.path else stable_check()
        return await send_in_pieces(request, doc, content_type="application/json", pieces=4)

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    advisories._MEMORY.clear()
    resolver = ProbeResolver(static={}, fallback=None)
    session = make_session(resolver, user_agent="sitewatch-test")
    async with serve(app) as base:
        sources = {"wordpress_latest": f"{base}/version-check/", "wordpress_insecure": f"{base}/stable-check/"}
        checks = []
        for n in range(20):
            root = wordpress_classic(tmp_path / f"site{n}", "6.1.9")
            config = CmsConfig.model_validate(
                {"root": str(root), "remote": False, "sources": sources, "cache_dir": str(tmp_path / "cache")}
            )
            site = SiteInfo(f"site{n}", yarl.URL(f"http://site{n}.test/"))
            checks.append((CmsCheck(config, site), site))
        try:
            with caplog.at_level(logging.WARNING):
                results = await asyncio.gather(
                    *(
                        check.run(Context(session, site, "cms", 5.0, SystemClock(), resolver, logging.getLogger("t")))
                        for check, site in checks
                    )
                )
        finally:
            await session.close()
    assert hits == {"/version-check/": 1, "/stable-check/": 1}
    assert {(r.status, r.details["latest"]) for r in results} == {(Status.CRITICAL, "6.7.1")}
    assert "cms_cache_write_failed" not in caplog.text
    files = sorted((tmp_path / "cache").iterdir())
    assert len(files) == 2, files  # no temporary file left behind
    docs = [json.loads(f.read_text()) for f in files]
    assert all(doc["value"] and doc["error"] is None for doc in docs), docs
