"""Bodies read whole up to their cap: real-sized pages and API answers arriving in many pieces."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from sitewatch.probe import Status, read_body
from tests.cms_pages import GENERATOR_AT, rss_feed, stable_check, version_check, wordpress_front_page
from tests.helpers import run_check, send_in_pieces, serve
from tests.test_cms_local import wordpress_classic

NO_SOURCES = {"wordpress_latest": None, "wordpress_insecure": None, "magento_latest": None}


def front_page_site(pieces: int, compress: bool) -> web.Application:
    """A WordPress 6.1.9 front page (28 KB, generator past byte 17,000) sent in ``pieces`` writes."""

    async def home(request: web.Request) -> web.StreamResponse:
        base = f"http://{request.host}"
        if request.query.get("feed") == "rss2":  # plain permalinks: the feed the page advertises
            return await send_in_pieces(request, rss_feed(), content_type="application/rss+xml", pieces=pieces)
        return await send_in_pieces(request, wordpress_front_page(base), pieces=pieces, compress=compress)

    app = web.Application()
    app.router.add_get("/", home)
    return app


@pytest.mark.parametrize(("pieces", "compress"), [(24, True), (40, False)], ids=["gzip-chunked", "chunked"])
async def test_generator_past_the_first_network_chunk_is_seen(pieces: int, compress: bool) -> None:
    """The real 28 KB page's meta generator (past byte 17,000) counts even when the body comes in pieces."""
    page = wordpress_front_page("http://x")
    assert len(page) > 27_000
    assert page.index(b'name="generator"') > GENERATOR_AT
    async with serve(front_page_site(pieces, compress)) as base:
        record = await run_check("cms", {"sources": NO_SOURCES}, url=base + "/")
    remote = record.result.details["remote"]
    assert "meta generator" in remote["signals"]
    assert remote["scores"] == {"6.1.9": 80 + 60 + 40}  # feed, meta, block-library; classic-themes ver=1 is no vote
    assert record.result.details["version"] == "6.1.9"
    assert "remote_cut" not in record.result.details


async def test_page_cut_at_max_body_says_so() -> None:
    """A page longer than ``max_body`` is judged on what was read, and the details say it was cut."""
    async with serve(front_page_site(24, True)) as base:
        record = await run_check("cms", {"sources": NO_SOURCES, "max_body": 8192}, url=base + "/")
    assert record.result.details["remote_cut"] == "read only the first 8.0 KiB of: home"
    assert "meta generator" not in record.result.details["remote"]["signals"]


async def test_real_sized_api_answers_in_four_pieces_judge_the_install(tmp_path: Path) -> None:
    """14 KB version-check and stable-check answers, gzip'd and chunked in four pieces: 6.1.9 is insecure."""

    async def answer(request: web.Request) -> web.StreamResponse:
        doc = version_check() if "version-check" in request.path else stable_check()
        return await send_in_pieces(request, doc, content_type="application/json", pieces=4)

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    root = wordpress_classic(tmp_path / "site", "6.1.9")
    async with serve(app) as base:
        sources = {
            "wordpress_latest": f"{base}/core/version-check/1.7/",
            "wordpress_insecure": f"{base}/core/stable-check/1.0/",
        }
        settings = {"root": str(root), "remote": False, "sources": sources, "cache_dir": str(tmp_path / "c")}
        record = await run_check("cms", settings)
    result = record.result
    assert result.status is Status.CRITICAL
    assert result.summary == "WordPress 6.1.9 is insecure (latest 6.7.1, listed as insecure by the stable-check source)"
    assert all(text.endswith("ms old") for text in result.details["sources"].values()), result.details["sources"]


@pytest.mark.parametrize(("size", "truncated"), [(9999, False), (10_000, False), (10_001, True)])
async def test_read_body_reads_to_the_cap_and_says_exactly_when_cut(size: int, truncated: bool) -> None:
    """A body of exactly the cap is whole; one byte more is cut, and the data is the first ``limit`` bytes."""
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)

    async def handler(request: web.Request) -> web.StreamResponse:
        return await send_in_pieces(request, body, content_type="application/octet-stream", pieces=7)

    app = web.Application()
    app.router.add_get("/", handler)
    async with serve(app) as base, aiohttp.ClientSession() as session, session.get(base + "/") as resp:
        got = await read_body(resp.content, 10_000)
    assert (got.data, got.truncated) == (body[:10_000], truncated)
