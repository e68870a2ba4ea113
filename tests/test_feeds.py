"""Advisory snapshots refreshed by the agent: served gzip'd in many pieces, verified, cached atomically.

A corrupt, truncated, oversized or wrongly hashed download never replaces the good snapshot,
on disk or in the book checks read; a restart publishes the cached copy with no request.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from sitewatch.advisories import AdvisoryBook
from sitewatch.config.vulns import VulnerabilitiesConfig
from sitewatch.feeds import FeedRefresher
from tests.advisory_feeds import wordfence_feed
from tests.helpers import send_in_pieces, serve

LOG = logging.getLogger("sitewatch.test")
FEED = wordfence_feed(records=4_000)  # about 6 MB, the size class of a real scanner-feed slice


class Clock:
    """Injected wall clock."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        """Unix seconds, advanced by the test."""
        return self.now

    def monotonic(self) -> float:
        """Follows the wall clock here."""
        return self.now


class Upstream:
    """A feed server: ``mode`` picks a good, corrupt, truncated or broken-off answer."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.hits: Counter[str] = Counter()
        self.conditional: list[str | None] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer per ``mode``, always in many small gzip'd chunks."""
        self.hits[self.mode] += 1
        self.conditional.append(request.headers.get("If-None-Match"))
        if self.mode == "ok":
            response = await send_in_pieces(request, FEED, content_type="application/json", pieces=600)
            return response
        if self.mode == "etag":
            if request.headers.get("If-None-Match") == '"v1"':
                return web.Response(status=304)
            return web.Response(body=gzip.compress(FEED), headers={"ETag": '"v1"', "Content-Encoding": "gzip"})
        if self.mode == "file-gz":  # a .json.gz file served as itself, not as a Content-Encoding
            return await send_in_pieces(request, gzip.compress(FEED), content_type="application/gzip", compress=False)
        if self.mode == "corrupt":
            return await send_in_pieces(request, b"<html>upstream error</html>" * 2000, pieces=50)
        if self.mode == "truncated":
            return await send_in_pieces(request, FEED[: len(FEED) // 2], content_type="application/json", pieces=300)
        if self.mode == "broken":  # the connection drops mid-body
            response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "9000000"})
            await response.prepare(request)
            await response.write(FEED[:500_000])
            assert request.transport is not None
            request.transport.close()
            return response
        return web.Response(status=503, text="maintenance")


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    """A running feed server on loopback and its feed URL."""
    state = Upstream()
    app = web.Application()
    app.router.add_get("/feed.json", state.handle)
    async with serve(app) as base:
        yield state, f"{base}/feed.json"


def refresher(tmp_path: Path, url: str, clock: Clock | None = None, **feed: Any) -> FeedRefresher:
    """A refresher with one Wordfence source at ``url`` caching under ``tmp_path``."""
    r = FeedRefresher(AdvisoryBook(), LOG, clock or Clock(), tmp_path / "default")
    source = {"format": "wordfence", "url": url, **feed}
    r.configure(VulnerabilitiesConfig.model_validate({"cache_dir": str(tmp_path / "cache"), "sources": {"wf": source}}))
    return r


async def test_gzip_chunked_download_is_parsed_cached_and_published(
    tmp_path: Path, upstream: tuple[Upstream, str]
) -> None:
    """A multi-MB feed in 600 gzip'd chunks becomes the book's snapshot and a cache file with its sha256."""
    _, url = upstream
    feeds = refresher(tmp_path, url)
    try:
        assert await feeds.refresh("wf")
    finally:
        await feeds.close()
    snap = feeds.book.snapshots["wf"]
    assert snap.records == 4_001
    assert ("wordpress-plugin", "contact-form-7") in snap.index
    assert snap.sha256 == hashlib.sha256(FEED).hexdigest()
    (data,) = (tmp_path / "cache").glob("wf-*.data")
    assert data.read_bytes() == FEED
    assert not list((tmp_path / "cache").glob("*.tmp"))


@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        ("corrupt", "not valid wordfence data"),
        ("truncated", "not valid wordfence data"),
        ("broken", "broke off"),
        ("down", "HTTP 503"),
    ],
)
async def test_bad_download_keeps_the_good_snapshot(
    tmp_path: Path, upstream: tuple[Upstream, str], mode: str, problem: str
) -> None:
    """After a good refresh, a bad one changes neither the book's snapshot nor the cache; the reason is kept."""
    state, url = upstream
    clock = Clock()
    feeds = refresher(tmp_path, url, clock)
    try:
        assert await feeds.refresh("wf")
        good = feeds.book.snapshots["wf"]
        cached = {p.name: p.read_bytes() for p in (tmp_path / "cache").iterdir()}
        state.mode = mode
        clock.now += 86400
        assert not await feeds.refresh("wf")
    finally:
        await feeds.close()
    assert feeds.book.snapshots["wf"] is good
    assert {p.name: p.read_bytes() for p in (tmp_path / "cache").iterdir()} == cached
    source = feeds.book.sources["wf"]
    assert source.problem is not None
    assert problem in source.problem
    assert source.failing_since == clock.now


async def test_over_the_size_cap_and_sha256_mismatch_are_refused(
    tmp_path: Path, upstream: tuple[Upstream, str]
) -> None:
    """A download over max_size (counted after decompression) or not matching the pinned sha256 is never used."""
    _, url = upstream
    small = refresher(tmp_path / "a", url, max_size="1MB")
    pinned = refresher(tmp_path / "b", url, sha256="0" * 64)
    try:
        assert not await small.refresh("wf")
        assert not await pinned.refresh("wf")
    finally:
        await small.close()
        await pinned.close()
    assert small.book.sources["wf"].problem == "answer is over max_size 976.6 KiB"
    assert "is not the configured 000000000000" in str(pinned.book.sources["wf"].problem)
    assert not small.book.snapshots
    assert not pinned.book.snapshots
    assert not (tmp_path / "a" / "cache").exists()


async def test_gzip_file_and_right_sha256_are_accepted(tmp_path: Path, upstream: tuple[Upstream, str]) -> None:
    """A .json.gz served as a file is unpacked; the sha256 pinned is the unpacked feed's."""
    state, url = upstream
    state.mode = "file-gz"
    feeds = refresher(tmp_path, url, sha256=hashlib.sha256(FEED).hexdigest())
    try:
        assert await feeds.refresh("wf")
    finally:
        await feeds.close()
    assert feeds.book.snapshots["wf"].records == 4_001


async def test_restart_publishes_the_cache_without_a_request(tmp_path: Path, upstream: tuple[Upstream, str]) -> None:
    """A new refresher (a restart) reads the cached snapshot from disk and is not due before its refresh time."""
    state, url = upstream
    clock = Clock()
    first = refresher(tmp_path, url, clock)
    try:
        assert await first.refresh("wf")
    finally:
        await first.close()
    clock.now += 3600
    second = refresher(tmp_path, url, clock)
    await second.load_cached()
    assert state.hits["ok"] == 1
    snap = second.book.snapshots["wf"]
    assert snap.records == 4_001
    assert snap.age(clock.now) == 3600
    assert second._due["wf"].at == snap.fetched + 12 * 3600


async def test_corrupt_cache_is_not_published(tmp_path: Path, upstream: tuple[Upstream, str]) -> None:
    """A cache file changed on disk no longer matches its sha256: nothing is published from it."""
    _, url = upstream
    first = refresher(tmp_path, url)
    try:
        assert await first.refresh("wf")
    finally:
        await first.close()
    (data,) = (tmp_path / "cache").glob("wf-*.data")
    data.write_bytes(data.read_bytes()[:1000])
    second = refresher(tmp_path, url)
    await second.load_cached()
    assert "wf" not in second.book.snapshots


async def test_not_modified_renews_the_snapshot(tmp_path: Path, upstream: tuple[Upstream, str]) -> None:
    """With an ETag, the next refresh asks If-None-Match; a 304 keeps the data and makes it current."""
    state, url = upstream
    state.mode = "etag"
    clock = Clock()
    feeds = refresher(tmp_path, url, clock)
    try:
        assert await feeds.refresh("wf")
        clock.now += 86400
        assert await feeds.refresh("wf")
    finally:
        await feeds.close()
    assert state.conditional == [None, '"v1"']
    assert feeds.book.snapshots["wf"].age(clock.now) == 0


async def test_curated_file_is_as_current_as_its_reading(tmp_path: Path) -> None:
    """A hand-kept curated list on disk does not go stale by its modification time; a mirrored feed does."""
    import os

    curated = tmp_path / "bitrix.yaml"
    curated.write_text("advisories:\n  - {id: CVE-2022-27228, component: vote, below: '21.0.100'}\n", "utf-8")
    os.utime(curated, (1_000_000_000, 1_000_000_000))
    clock = Clock()
    feeds = FeedRefresher(AdvisoryBook(), LOG, clock, tmp_path)
    feeds.configure(
        VulnerabilitiesConfig.model_validate({"sources": {"bx": {"format": "curated", "path": str(curated)}}})
    )
    assert await feeds.refresh("bx")
    assert feeds.book.snapshots["bx"].age(clock.now) == 0


async def test_file_source(tmp_path: Path) -> None:
    """A ``path:`` source is read from disk, gzip or not, its age being the file's modification time."""
    path = tmp_path / "wordfence.json.gz"
    path.write_bytes(gzip.compress(FEED))
    feeds = FeedRefresher(AdvisoryBook(), LOG, Clock(), tmp_path)
    sources = {"wf": {"format": "wordfence", "path": str(path)}}
    feeds.configure(VulnerabilitiesConfig.model_validate({"sources": sources}))
    assert await feeds.refresh("wf")
    assert feeds.book.snapshots["wf"].fetched == path.stat().st_mtime


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{format: wordfence, url: "http://127.0.0.1/f", path: /tmp/f}', "expected exactly one of url: or path:"),
        ("{format: wordfence}", "expected exactly one of url: or path:"),
        ("{format: wpscan, path: /tmp/f}", "wordfence"),
        ('{format: osv, url: "ftp://127.0.0.1/all.zip"}', "expected an http(s) URL"),
        ("{format: kev, path: relative.json}", "expected an absolute path:"),
        ("{format: wordfence, path: /tmp/f, sha256: abc}", "expected 64 hexadecimal digits"),
        ("{format: wordfence, path: /tmp/f, refresh: 10s}", "greater than or equal to 60"),
        ("{format: wordfence, path: /tmp/f, max_size: lots}", "expected a size"),
    ],
)
def test_vulnerabilities_config_errors_are_located(tmp_path: Path, source: str, message: str) -> None:
    """A bad source is a config error at its file and line, saying what was expected."""
    from sitewatch.config.loader import ConfigError, load_config

    path = tmp_path / "config.yaml"
    path.write_text(f"vulnerabilities:\n  sources:\n    wf: {source}\nsites: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = "\n".join(str(p) for p in caught.value.problems)
    assert f"{path}:3:" in text
    assert "vulnerabilities.sources.wf" in text
    assert message in text
