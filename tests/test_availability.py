"""Availability arithmetic on constructed histories with known answers, and its invariants."""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitewatch.config.loader import load_config
from sitewatch.config.maintenance import MaintenanceWindow
from sitewatch.config.specs import Config
from sitewatch.reports.availability import (
    Availability,
    Sample,
    Span,
    classify,
    combine,
    coverage,
    maintenance_intervals,
    outages,
    tally,
)
from sitewatch.reports.history import check_availability, counted_checks, site_availability
from sitewatch.store.database import Store


def ts(text: str) -> float:
    """Unix time of an ISO timestamp (always written with its zone)."""
    return dt.datetime.fromisoformat(text).timestamp()


NOV = ts("2026-11-01T00:00:00+00:00")
DEC = ts("2026-12-01T00:00:00+00:00")


def window(**fields: str) -> MaintenanceWindow:
    """A validated maintenance window (``start`` stands for ``from``)."""
    data = {("from" if k == "start" else k): v for k, v in fields.items()}
    return MaintenanceWindow.model_validate(data)


@pytest.mark.parametrize(
    ("status", "error_is_failure", "expected"),
    [
        ("ok", True, "up"),
        ("warning", True, "up"),
        ("critical", True, "down"),
        ("critical", False, "down"),
        ("error", True, "down"),
        ("error", False, "no_data"),
        ("something-new", True, "no_data"),
    ],
)
def test_classify(status: str, error_is_failure: bool, expected: str) -> None:
    """ok/warning are up, critical down, error follows error_is_failure (could not measure is not up)."""
    assert classify(status, error_is_failure=error_is_failure) == expected


def test_ratio_is_none_without_observations() -> None:
    """Nothing observed outside maintenance: no ratio rather than 0 % or 100 %."""
    assert Availability(0, 0, 10, 5).ratio is None
    assert Availability(3, 1, 0, 0).ratio == 0.75


def test_each_sample_lasts_until_the_next_one() -> None:
    """Regular samples tile the range; a change of state ends one span and starts the next."""
    samples = [Sample(0, "up"), Sample(60, "up"), Sample(120, "down"), Sample(180, "up")]
    assert coverage(samples, reach=70, start=0, end=240) == [
        Span(0, 120, "up"),
        Span(120, 180, "down"),
        Span(180, 240, "up"),
    ]


def test_a_gap_beyond_reach_is_no_data() -> None:
    """The agent was down from 60+70 to 1000: that time is neither up nor down."""
    samples = [Sample(0, "up"), Sample(60, "up"), Sample(1000, "up")]
    spans = coverage(samples, reach=70, start=0, end=1060)
    assert spans == [Span(0, 130, "up"), Span(1000, 1060, "up")]
    assert tally(spans, [], 0, 1060) == Availability(190, 0, 0, 870)


def test_a_sample_straddling_the_start_counts_from_the_start() -> None:
    """A sample 30 s before the range covers its first 30 s (next sample at +30 s)."""
    samples = [Sample(-30, "down"), Sample(30, "up")]
    assert coverage(samples, reach=70, start=0, end=100) == [Span(0, 30, "down"), Span(30, 100, "up")]


def test_the_last_sample_is_clipped_to_its_reach_and_the_end() -> None:
    """No sample after the last one: it stands for `reach` seconds, then no data."""
    assert coverage([Sample(0, "up")], reach=70, start=0, end=50) == [Span(0, 50, "up")]
    assert tally(coverage([Sample(0, "up")], reach=70, start=0, end=100), [], 0, 100) == Availability(70, 0, 0, 30)


def test_error_without_error_is_failure_is_a_hole() -> None:
    """An error sample that does not count ends the previous span and covers nothing itself."""
    samples = [Sample(0, "up"), Sample(60, "no_data"), Sample(120, "up")]
    assert coverage(samples, reach=70, start=0, end=180) == [Span(0, 60, "up"), Span(120, 180, "up")]


def test_site_is_down_when_any_counted_check_is_down() -> None:
    """Down beats up; up where at least one check saw up; nothing where none saw anything."""
    a = [Span(0, 100, "up"), Span(100, 200, "down")]
    b = [Span(50, 150, "down"), Span(300, 400, "up")]
    assert combine([a, b]) == [Span(0, 50, "up"), Span(50, 200, "down"), Span(300, 400, "up")]


def test_overlapping_maintenance_counts_once() -> None:
    """A site window and a global window that overlap remove their union, clipped to the range."""
    windows = [
        window(start="2026-11-10T02:00:00Z", until="2026-11-10T04:00:00Z"),
        window(start="2026-11-10T03:00:00Z", until="2026-11-10T05:00:00Z"),
        window(start="2026-10-31T23:00:00Z", until="2026-11-01T01:00:00Z"),  # straddles the month start
    ]
    got = maintenance_intervals(windows, NOV, DEC)
    assert got == [(NOV, NOV + 3600), (ts("2026-11-10T02:00:00+00:00"), ts("2026-11-10T05:00:00+00:00"))]
    spans = [Span(NOV, DEC, "up")]
    assert tally(spans, got, NOV, DEC) == Availability(30 * 86400 - 4 * 3600, 0, 4 * 3600, 0)


def test_cron_windows_across_a_month_boundary() -> None:
    """Daily 23:00 for 2 h: October's last occurrence reaches into November, November's last into December."""
    got = maintenance_intervals([window(cron="0 23 * * *", duration="2h")], NOV, DEC)
    assert got[0] == (NOV, NOV + 3600)  # from 2026-10-31T23:00
    assert got[-1] == (ts("2026-11-30T23:00:00+00:00"), DEC)  # cut at the end of the month
    assert len(got) == 31
    assert math.isclose(sum(hi - lo for lo, hi in got), 30 * 2 * 3600)


def test_a_month_with_an_outage_a_gap_and_maintenance() -> None:
    """November 2026, one sample a minute: a 30 min outage, a 2 h agent stop, a Sunday 1 h window."""
    outage = ts("2026-11-05T10:00:00+00:00")
    stopped = ts("2026-11-20T00:00:00+00:00")
    samples = []
    at = NOV - 20.0  # the run before the month started
    while at < DEC:
        if not stopped <= at < stopped + 7200:
            samples.append(Sample(at, "down" if outage <= at < outage + 1800 else "up"))
        at += 60
    windows = [window(cron="0 3 * * 0", duration="1h")]  # Sundays in Nov 2026: 1, 8, 15, 22, 29
    spans = coverage(samples, reach=70, start=NOV, end=DEC)
    got = tally(spans, maintenance_intervals(windows, NOV, DEC), NOV, DEC)
    # Samples run at :40 past each minute. The last one before the stop (23:59:40) stands for
    # its 70 s reach, to 00:00:50; the first after it is at 02:00:40: 7190 s without data.
    assert got.down == 1800
    assert got.maintenance == 5 * 3600
    assert got.no_data == 7190
    assert got.up == 30 * 86400 - 1800 - 5 * 3600 - got.no_data
    assert got.ratio == pytest.approx(got.up / (got.up + 1800))


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Sample], float, list[tuple[float, float]], float, float]:
    """Random samples, reach, maintenance intervals and a range around them."""
    times = draw(st.lists(st.floats(0, 10_000, allow_nan=False), max_size=40))
    states = draw(st.lists(st.sampled_from(["up", "down", "no_data"]), min_size=len(times), max_size=len(times)))
    reach = draw(st.floats(1, 2_000))
    raw = draw(st.lists(st.tuples(st.floats(-500, 10_500), st.floats(0, 3_000)), max_size=6))
    start = draw(st.floats(-1_000, 9_000))
    end = draw(st.floats(start, 12_000))
    maintenance = sorted((lo, lo + length) for lo, length in raw)
    merged: list[tuple[float, float]] = []
    for lo, hi in maintenance:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    samples = [Sample(t, s) for t, s in zip(times, states, strict=True)]
    return samples, reach, merged, start, end


@given(histories())
@settings(max_examples=300, deadline=None)
def test_the_four_buckets_add_up_and_the_ratio_is_a_fraction(
    case: tuple[list[Sample], float, list[tuple[float, float]], float, float],
) -> None:
    """up + down + maintenance + no_data == end - start, each ≥ 0, ratio in [0, 1]."""
    samples, reach, maintenance, start, end = case
    got = tally(coverage(samples, reach, start, end), maintenance, start, end)
    assert min(got.up, got.down, got.maintenance, got.no_data) >= -1e-6
    assert got.total == pytest.approx(end - start, abs=1e-6)
    assert got.ratio is None or 0.0 <= got.ratio <= 1.0


@given(histories(), st.floats(0, 1))
@settings(max_examples=200, deadline=None)
def test_adjacent_ranges_add_up_to_the_whole(
    case: tuple[list[Sample], float, list[tuple[float, float]], float, float], cut: float
) -> None:
    """Splitting a range anywhere changes nothing: what the agent's per-hour cache relies on."""
    samples, reach, maintenance, start, end = case
    middle = start + (end - start) * cut

    def part(lo: float, hi: float) -> Availability:
        return tally(coverage(samples, reach, lo, hi), maintenance, lo, hi)

    whole, halves = part(start, end), part(start, middle) + part(middle, end)
    for name in ("up", "down", "maintenance", "no_data"):
        assert getattr(halves, name) == pytest.approx(getattr(whole, name), abs=1e-6)


# -- against a real store -------------------------------------------------------------------


def shop_config(tmp_path: Path) -> Config:
    """One site with two http checks, a tls check and a site window; a global window."""
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent("""\
        agent:
          state_dir: STATE
        defaults:
          interval: 60s
          timeout: 10s
        maintenance:
          - {from: "2026-11-10T02:00:00Z", until: "2026-11-10T04:00:00Z"}
        sites:
          - name: shop
            url: https://shop.example.com/
            maintenance:
              - {from: "2026-11-10T03:00:00Z", until: "2026-11-10T05:00:00Z"}
            checks:
              - {type: http}
              - {type: http, name: checkout, url: /checkout, error_is_failure: false}
              - {type: tls}
        """).replace("STATE", str(tmp_path)),
        encoding="utf-8",
    )
    return load_config(path)


def test_site_availability_from_the_store(tmp_path: Path) -> None:
    """Two http checks count (tls does not); either one down is the site down; errors follow each policy."""
    config = shop_config(tmp_path)
    site = config.sites[0]
    assert [c.name for c in counted_checks(site)] == ["http", "checkout"]
    day = ts("2026-11-10T00:00:00+00:00")
    rows = []
    for minute in range(-1, 24 * 60):
        at = day + minute * 60
        rows.append(("shop", "http", at, "critical" if 600 <= minute < 610 else "ok", 0.1))
        # checkout: could not measure for 20 min (not a failure for it), then down 5 min
        checkout = "error" if 700 <= minute < 720 else "critical" if 720 <= minute < 725 else "ok"
        rows.append(("shop", "checkout", at + 5, checkout, 0.1))
        rows.append(("shop", "tls", at, "critical", 0.1))  # not counted for the site
    store = Store(tmp_path / "sitewatch.db")
    try:
        store.append_history(rows)
        got = site_availability(store, site, day, day + 86400)
        assert got.maintenance == 3 * 3600
        assert got.down == pytest.approx(10 * 60 + 5 * 60)
        assert got.no_data == 0  # the http check covered the checkout's error minutes
        assert got.up == pytest.approx(86400 - 3 * 3600 - 15 * 60)
        checkout = check_availability(store, site.checks[1], day, day + 86400)
        assert checkout.no_data == pytest.approx(20 * 60)
        assert checkout.down == pytest.approx(5 * 60)
        tls = check_availability(store, site.checks[2], day, day + 86400)
        assert tls.up == 0
        assert tls.down == pytest.approx(86400 - 3 * 3600)
        # Nothing recorded at all: everything outside maintenance is no data, and no ratio.
        empty = site_availability(store, site, DEC, DEC + 86400)
        assert empty == Availability(0, 0, 0, 86400)
        assert empty.ratio is None
    finally:
        store.close()


def test_the_worked_example_of_the_docs() -> None:
    """docs/availability.md's example, number for number."""
    day = ts("2026-11-10T00:00:00+00:00")
    samples = [Sample(day - 10, "up")]
    samples += [Sample(day + 50 + 60 * m, "down" if 600 <= m < 610 else "up") for m in range(14 * 60)]
    samples += [Sample(day + 15 * 3600 + 10 + 60 * m, "up") for m in range(9 * 60)]
    windows = [window(cron="0 3 * * *", duration="30m")]
    got = tally(
        coverage(samples, 70, day, day + 86400), maintenance_intervals(windows, day, day + 86400), day, day + 86400
    )
    assert got == Availability(up=80450, down=600, maintenance=1800, no_data=3550)
    assert got.ratio == pytest.approx(0.99260, abs=5e-6)


def test_outages_are_cut_by_maintenance_and_the_range() -> None:
    """Down stretches only: a window splits one outage in two, the range clips the ends, touching pieces join."""
    spans = [Span(-50, 100, "down"), Span(100, 200, "up"), Span(200, 300, "down"), Span(300, 320, "down")]
    assert outages(spans, [(240, 260)], 0, 310) == [(0, 100), (200, 240), (260, 310)]
    assert outages(spans, [(0, 400)], 0, 400) == []


def _at(spans: list[Span], t: float) -> str:
    """What a list of disjoint spans says about instant ``t``."""
    return next((s.observed for s in spans if s.start <= t < s.end), "no_data")


@given(histories(), st.lists(st.floats(-1_000, 12_000), min_size=1, max_size=20))
@settings(max_examples=200, deadline=None)
def test_coverage_at_any_instant_is_the_latest_sample_within_reach(
    case: tuple[list[Sample], float, list[tuple[float, float]], float, float], instants: list[float]
) -> None:
    """Pointwise definition: the last sample at or before t (the later one of equal times), if t is within its reach."""
    samples, reach, _, start, end = case
    spans = coverage(samples, reach, start, end)
    ordered = sorted(samples, key=lambda s: s.at)
    for t in instants:
        before = [s for s in ordered if s.at <= t]
        expected = "no_data"
        if start <= t < end and before and t < before[-1].at + reach:
            expected = before[-1].observed
        assert _at(spans, t) == expected, (t, spans)


@given(
    st.lists(st.lists(st.tuples(st.floats(0, 1_000), st.sampled_from(["up", "down"])), max_size=15), max_size=4),
    st.lists(st.floats(-10, 1_100), min_size=1, max_size=20),
)
@settings(max_examples=200, deadline=None)
def test_site_state_at_any_instant(raw: list[list[tuple[float, str]]], instants: list[float]) -> None:
    """Pointwise: down if any check is down, else up if any is up, else no data."""
    timelines = [coverage([Sample(at, s) for at, s in samples], 30, 0, 1_000) for samples in raw]
    site = combine(timelines)
    for t in instants:
        states = {_at(line, t) for line in timelines}
        expected = "down" if "down" in states else "up" if "up" in states else "no_data"
        assert _at(site, t) == expected
