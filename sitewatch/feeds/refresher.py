"""Refreshes each ``vulnerabilities:`` source on its schedule: download, verify, cache, publish (see the package)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp

from sitewatch.advisories import AdvisoryBook, Snapshot, SourceState, coverage, parse_snapshot
from sitewatch.config.vulns import FeedConfig, VulnerabilitiesConfig
from sitewatch.feeds.cache import FetchError, cached, gunzip, read_capped, store, touch
from sitewatch.files import read_regular
from sitewatch.logs import event
from sitewatch.probe import Clock, format_size, redact_url

__all__ = ["FeedRefresher"]

#: The loop re-reads the config at least this often, so a reload's new source starts soon.
_MAX_NAP = 60.0


@dataclass
class _Due:
    at: float = 0.0
    failing_since: float | None = None
    etag: str | None = None
    last_modified: str | None = None


class FeedRefresher:
    """Owns the sources' schedule, their on-disk cache and the book checks read."""

    def __init__(
        self,
        book: AdvisoryBook,
        log: logging.Logger,
        clock: Clock,
        default_dir: Path,
        on_publish: Callable[[], None] | None = None,
    ) -> None:
        self.book = book
        #: Called after a snapshot is published (the real agent freezes it out of the garbage collector).
        self._on_publish = on_publish
        self.log = log
        self.clock = clock
        self._default_dir = default_dir
        self._config = VulnerabilitiesConfig()
        self._due: dict[str, _Due] = {}
        self._session: aiohttp.ClientSession | None = None

    @property
    def cache_dir(self) -> Path:
        """Where good snapshots are kept."""
        return self._config.cache_dir or self._default_dir

    def configure(self, config: VulnerabilitiesConfig) -> None:
        """Take a (re)loaded ``vulnerabilities:`` section; a changed source is fetched again soon."""
        old = self._config.sources
        self._config = config
        for name, feed in config.sources.items():
            if old.get(name) != feed:
                self._due[name] = _Due()
        self._due = {k: v for k, v in self._due.items() if k in config.sources}
        self.book.configure(
            {
                name: SourceState(name, feed.format, coverage(feed.format, feed.ecosystem))
                for name, feed in config.sources.items()
            }
        )

    async def run(self) -> None:
        """Load the cached snapshots, then refresh each source when due, forever."""
        await self.load_cached()
        while True:
            now = self.clock.time()
            for name in [n for n, d in self._due.items() if d.at <= now]:
                await self.refresh(name)
            upcoming = [d.at for d in self._due.values()]
            nap = min([*upcoming, now + _MAX_NAP]) - self.clock.time()
            await asyncio.sleep(max(1.0, min(nap, _MAX_NAP)))

    async def load_cached(self) -> None:
        """Publish every source's last good snapshot from disk (no network); fresh ones are not due."""
        for name, feed in list(self._config.sources.items()):
            try:
                snapshot = await asyncio.to_thread(self._read_cache, name, feed)
            except (OSError, ValueError) as exc:
                event(self.log, logging.WARNING, "advisories_cache_unusable", source=name, error=str(exc)[:200])
                continue
            if snapshot is not None:
                self._publish(snapshot)
                self._due.setdefault(name, _Due()).at = snapshot.fetched + feed.refresh

    async def refresh(self, name: str) -> bool:
        """Fetch, verify, cache and publish one source now; False (and the old snapshot kept) on any failure."""
        feed = self._config.sources[name]
        due = self._due.setdefault(name, _Due())
        now = self.clock.time()
        started = time.monotonic()
        try:
            if feed.path is not None:
                snapshot = await asyncio.to_thread(self._from_file, name, feed)
            else:
                snapshot = await self._download(name, feed, due)
        except FetchError as exc:
            due.failing_since = due.failing_since or now
            due.at = now + feed.retry
            self.book.failed(name, str(exc), due.failing_since)
            event(self.log, logging.WARNING, "advisories_refresh_failed", source=name, error=str(exc))
            return False
        due.failing_since = None
        due.at = now + feed.refresh
        self._publish(snapshot)
        event(
            self.log,
            logging.INFO,
            "advisories_refreshed",
            source=name,
            records=snapshot.records,
            seconds=round(time.monotonic() - started, 3),
        )
        return True

    def _publish(self, snapshot: Snapshot) -> None:
        self.book.publish(snapshot)
        if self._on_publish is not None:
            self._on_publish()

    async def _download(self, name: str, feed: FeedConfig, due: _Due) -> Snapshot:
        assert feed.url is not None  # the config allows exactly one of url/path
        headers = {"Accept-Encoding": "gzip"}
        if feed.token:
            headers["Authorization"] = f"Bearer {feed.token}"
        current = self.book.snapshots.get(name)
        if current is not None and due.etag:
            headers["If-None-Match"] = due.etag
        if current is not None and due.last_modified:
            headers["If-Modified-Since"] = due.last_modified
        if self._session is None:
            self._session = aiohttp.ClientSession()
        where = redact_url(feed.url)
        try:
            async with self._session.get(
                feed.url, headers=headers, timeout=aiohttp.ClientTimeout(total=feed.timeout)
            ) as resp:
                if resp.status == 304 and current is not None:
                    # Unchanged upstream: the data is as current as this answer says.
                    return await asyncio.to_thread(self._touch, name, current)
                if resp.status != 200:
                    raise FetchError(f"HTTP {resp.status} from {where}")
                if (resp.content_length or 0) > feed.max_size:
                    raise FetchError(f"{format_size(resp.content_length or 0)} is over max_size")
                body = await read_capped(resp.content, feed.max_size)
                etag, modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
        except TimeoutError:
            raise FetchError(f"no complete answer from {where} within {feed.timeout:.0f}s") from None
        except aiohttp.ClientPayloadError:
            raise FetchError(f"the download from {where} broke off (truncated)") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise FetchError(f"request to {where} failed ({type(exc).__name__})") from None
        # The age is the download's: a Last-Modified only makes the next request conditional (a
        # hand-kept list served as a static file would otherwise look stale while it is current).
        snapshot = await asyncio.to_thread(self._verify_and_store, name, feed, body, self.clock.time())
        due.etag, due.last_modified = etag, modified
        return snapshot

    def _from_file(self, name: str, feed: FeedConfig) -> Snapshot:
        assert feed.path is not None  # the config allows exactly one of url/path
        try:
            data = read_regular(feed.path, feed.max_size + 1)
            mtime = os.stat(feed.path).st_mtime
        except OSError as exc:
            raise FetchError(f"cannot read {feed.path} ({exc.strerror or type(exc).__name__})") from None
        if data is None:
            raise FetchError(f"{feed.path} does not exist")
        if len(data) > feed.max_size:
            raise FetchError(f"{feed.path} is over max_size {format_size(feed.max_size)}")
        plain = gunzip(data, feed.max_size)
        # A feed kept on disk by a mirror job is as old as the file (a broken job shows as stale); a
        # hand-curated list is as current as its last reading.
        as_of = self.clock.time() if feed.format == "curated" else min(mtime, self.clock.time())
        return self._parse(name, feed, plain, as_of)

    def _parse(self, name: str, feed: FeedConfig, data: bytes, as_of: float) -> Snapshot:
        digest = hashlib.sha256(data).hexdigest()
        if feed.sha256 and digest != feed.sha256:
            raise FetchError(f"sha256 {digest[:12]}… is not the configured {feed.sha256[:12]}…")
        try:
            return parse_snapshot(feed.format, data, source=name, fetched=as_of, sha256=digest, limit=feed.max_size)
        except ValueError as exc:
            raise FetchError(str(exc)) from None

    def _verify_and_store(self, name: str, feed: FeedConfig, body: bytes, as_of: float) -> Snapshot:
        plain = gunzip(body, feed.max_size)
        snapshot = self._parse(name, feed, plain, as_of)
        try:
            self._store(name, plain, snapshot)
        except OSError as exc:
            # Checks still get the new data; the next restart starts from the older copy.
            event(self.log, logging.WARNING, "advisories_cache_write_failed", source=name, error=type(exc).__name__)
        return snapshot

    def _store(self, name: str, data: bytes, snapshot: Snapshot) -> None:
        store(self.cache_dir, name, data, snapshot)

    def _touch(self, name: str, current: Snapshot) -> Snapshot:
        fresh = replace(current, fetched=self.clock.time())
        touch(self.cache_dir, name, fresh.fetched)
        return fresh

    def _read_cache(self, name: str, feed: FeedConfig) -> Snapshot | None:
        if feed.path is not None:
            try:
                return self._from_file(name, feed)
            except FetchError as exc:
                raise ValueError(str(exc)) from None
        found = cached(self.cache_dir, name, feed.format, feed.max_size)
        if found is None:
            return None
        data, fetched = found
        try:
            return self._parse(name, feed, data, fetched)
        except FetchError as exc:
            raise ValueError(str(exc)) from None

    async def close(self) -> None:
        """Close the download session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
