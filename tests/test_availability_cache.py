"""The agent's 30-day availability cache: the same numbers as a full computation, for a fraction of the reading."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from sitewatch.config.loader import load_config
from sitewatch.config.policy import Policy
from sitewatch.config.specs import Config, SiteSpec
from sitewatch.reports import availability_cache
from sitewatch.reports.availability import Span, tally, tally_by
from sitewatch.reports.availability_cache import WINDOW, AvailabilityCache
from sitewatch.reports.history import site_availability
from sitewatch.store.database import Store
from tests.configs import write_site_config

T0 = dt.datetime(2026, 11, 15, 10, 17, 23, tzinfo=dt.UTC).timestamp()


def config(tmp_path: Path) -> Config:
    """shop (http + tls, a daily window) and blog (never observed)."""
    path = write_site_config(
        tmp_path,
        """\
        maintenance:
          - {cron: "30 2 * * *", duration: 45m}
        sites:
          - name: shop
            url: https://shop.example.com/
            checks: [{type: http}, {type: tls, interval: 1h}]
          - name: blog
            url: https://blog.example.com/
        """,
    )
    return load_config(path)


def status(at: float) -> str:
    """A deterministic history: errors and outages at odd times, one long gap."""
    minute = int(at // 60)
    if minute % 997 < 7:
        return "critical"
    if minute % 463 < 3:
        return "error"
    return "ok"


def history(since: float, until: float) -> list[tuple[str, str, float, str, float]]:
    """shop's http samples at :13 past each minute in [since, until), except a 3-hour agent stop."""
    rows = []
    at = since - since % 60 + 13
    while at < until:
        if not T0 - 5 * 86400 <= at < T0 - 5 * 86400 + 3 * 3600 and at >= since:
            rows.append(("shop", "http", at, status(at), 0.1))
        at += 60
    return rows


def test_tally_by_equals_tally_per_bucket() -> None:
    """The one-pass per-bucket tally is the same as tallying each bucket on its own."""
    spans = [Span(5, 50, "up"), Span(50, 70, "down"), Span(90, 250, "up"), Span(260, 262, "down")]
    maintenance = [(40, 95), (200, 210)]
    edges = [0.0, 60.0, 120.0, 180.0, 240.0, 300.0]
    assert tally_by(spans, maintenance, edges) == [
        tally(spans, maintenance, lo, hi) for lo, hi in zip(edges, edges[1:], strict=False)
    ]


def test_incremental_refreshes_match_the_full_computation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refresh as time passes and samples arrive: every total equals site_availability over the window,
    and after the first refresh each one reads about two hours of history, not thirty days."""
    cfg = config(tmp_path)
    shop = cfg.sites[0]
    store = Store(tmp_path / "sitewatch.db")
    store.append_history(history(T0 - WINDOW - 86400, T0))
    read: list[float] = []
    real_rows = availability_cache.site_rows

    def counting(store: Store, site: SiteSpec, lo: float, hi: float) -> list[tuple[str, float, str]]:
        read.append(hi - lo)
        return real_rows(store, site, lo, hi)

    monkeypatch.setattr(availability_cache, "site_rows", counting)
    cache = AvailabilityCache(store.path)
    try:
        now = T0
        for step in range(12):
            if step:
                store.append_history(history(now, now + 611))
                now += 611  # about ten minutes, never on an hour boundary
            read.clear()
            cache.refresh(cfg.sites, now)
            expected = site_availability(store, shop, now - WINDOW, now)
            got = cache.totals["shop"]
            for name in ("up", "down", "maintenance", "no_data"):
                assert getattr(got, name) == pytest.approx(getattr(expected, name), abs=1e-6), (step, name)
            assert cache.ratios["shop"] == pytest.approx(expected.ratio)
            if step:
                assert sum(read) < 3 * 3600 * len(cfg.sites), read
        assert expected.down > 0
        assert expected.no_data > 3 * 3600 - 100
        assert "blog" not in cache.ratios  # never observed: no ratio, no sample
    finally:
        store.close()


def test_a_changed_site_is_recomputed_and_a_removed_one_forgotten(tmp_path: Path) -> None:
    """A reload that changes what the arithmetic depends on drops the cached hours; removed sites vanish."""
    cfg = config(tmp_path)
    store = Store(tmp_path / "sitewatch.db")
    store.append_history(history(T0 - WINDOW - 3600, T0))
    cache = AvailabilityCache(store.path)
    try:
        cache.refresh(cfg.sites, T0)
        before = cache.totals["shop"]
        shop = cfg.sites[0]
        lenient = dataclasses.replace(
            shop, checks=tuple(dataclasses.replace(c, policy=Policy(error_is_failure=False)) for c in shop.checks)
        )
        cache.refresh([lenient], T0)
        after = cache.totals["shop"]
        expected = site_availability(store, lenient, T0 - WINDOW, T0)
        assert after.no_data == pytest.approx(expected.no_data)
        assert after.down < before.down  # errors no longer count as down…
        assert after.no_data > before.no_data  # …they are holes now
        cache.refresh([], T0)
        assert cache.ratios == {}
    finally:
        store.close()


def test_no_store_means_no_ratios(tmp_path: Path) -> None:
    """Before the first run of a fresh agent there is nothing to read, and nothing is created."""
    cache = AvailabilityCache(tmp_path / "sitewatch.db")
    cache.refresh(config(tmp_path).sites, T0)
    assert cache.ratios == {}
    assert not (tmp_path / "sitewatch.db").exists()


def test_a_site_without_history_costs_one_query_and_a_fixed_size_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """blog has no samples: its 30 days are no_data (less maintenance) without one bucket per hour or day."""
    cfg = config(tmp_path)
    blog = cfg.sites[1]
    store = Store(tmp_path / "sitewatch.db")
    store.append_history(history(T0 - 3600, T0))  # shop only
    queries: list[str] = []
    real_rows = availability_cache.site_rows

    def counting(store: Store, site: SiteSpec, lo: float, hi: float) -> list[tuple[str, float, str]]:
        queries.append(site.info.name)
        return real_rows(store, site, lo, hi)

    monkeypatch.setattr(availability_cache, "site_rows", counting)
    cache = AvailabilityCache(store.path)
    try:
        cache.refresh([blog], T0)
        assert queries == ["blog"]  # the unsettled tail only: the empty 30 days are skipped, not read
        expected = site_availability(store, blog, T0 - WINDOW, T0)
        got = cache.totals["blog"]
        assert got.up == got.down == 0
        assert got.maintenance == pytest.approx(expected.maintenance)
        assert got.maintenance > 0
        assert got.no_data == pytest.approx(expected.no_data)
        entry = cache._sites["blog"]
        assert not hasattr(entry, "__dict__")  # __slots__: a fixed handful of floats, no per-period container
        assert all(not isinstance(getattr(entry, name), dict | list) for name in type(entry).__slots__)
    finally:
        store.close()


def test_refreshes_across_utc_midnight_match_the_full_computation(tmp_path: Path) -> None:
    """Both ends of the window cross a UTC midnight (and a maintenance window starts there): still exact."""
    path = write_site_config(
        tmp_path,
        """\
        maintenance:
          - {cron: "0 0 * * *", duration: 5m}
        sites:
          - name: shop
            url: https://shop.example.com/
        """,
    )
    cfg = load_config(path)
    midnight = dt.datetime(2026, 11, 16, tzinfo=dt.UTC).timestamp()
    store = Store(tmp_path / "sitewatch.db")
    now = midnight - 7 * 60 - 17
    store.append_history(history(now - WINDOW - 3600, now))
    cache = AvailabilityCache(store.path)
    try:
        while now < midnight + 9 * 60:
            cache.refresh(cfg.sites, now)
            expected = site_availability(store, cfg.sites[0], now - WINDOW, now)
            got = cache.totals["shop"]
            for name in ("up", "down", "maintenance", "no_data"):
                assert getattr(got, name) == pytest.approx(getattr(expected, name), abs=1e-6), (now, name)
            store.append_history(history(now, now + 47))
            now += 47
    finally:
        store.close()


def test_a_steady_refresh_reads_only_the_last_minutes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first fill, a refresh a minute later reads a handful of rows, not the window's 43 000."""
    cfg = config(tmp_path)
    store = Store(tmp_path / "sitewatch.db")
    store.append_history(history(T0 - WINDOW - 3600, T0 + 60))
    rows_read: list[int] = []
    real_rows = availability_cache.site_rows

    def counting(store: Store, site: SiteSpec, lo: float, hi: float) -> list[tuple[str, float, str]]:
        rows = real_rows(store, site, lo, hi)
        rows_read.append(len(rows))
        return rows

    monkeypatch.setattr(availability_cache, "site_rows", counting)
    cache = AvailabilityCache(store.path)
    try:
        cache.refresh(cfg.sites, T0)
        assert sum(rows_read) > 40_000  # the first fill reads the window once
        rows_read.clear()
        cache.refresh(cfg.sites, T0 + 60)
        # Per site: the minute that settled + the unsettled tail (one query), and the minute
        # that left the window (one query). A 60 s check gives a few rows each.
        assert len(rows_read) == 4
        assert sum(rows_read) <= 10, rows_read
    finally:
        store.close()


async def test_batched_refresh_equals_the_blocking_one(tmp_path: Path) -> None:
    """The agent's batched refresh (one site per worker call here) gives the same totals as refresh()."""
    cfg = config(tmp_path)
    store = Store(tmp_path / "sitewatch.db")
    store.append_history(history(T0 - 3 * 86400, T0))
    blocking, batched = AvailabilityCache(store.path), AvailabilityCache(store.path)
    try:
        for now in (T0 - 600, T0):
            blocking.refresh(cfg.sites, now)
            await batched.refresh_in_batches(cfg.sites, now, batch=1)
            assert batched.totals == blocking.totals
            assert batched.ratios == blocking.ratios
    finally:
        store.close()
