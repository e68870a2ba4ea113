"""Availability arithmetic: a site or check over a time range, from recorded samples (see also ``history``).

The arithmetic (documented with a worked example in docs/availability.md):

* A sample at ``at`` stands for ``[at, next_at)``, where ``next_at`` is the check's next
  sample, but never for more than ``reach = interval + timeout`` seconds: a run that
  should have followed and did not (agent down, scheduler stuck) leaves a gap, and a
  gap is ``no_data``, never ``up``.
* ``ok`` and ``warning`` are up (the site served; ``probe_success`` says 1 too),
  ``critical`` is down, ``error`` (could not measure) is down when the check's policy
  has ``error_is_failure`` (the default, as for incidents) and ``no_data`` otherwise.
* A site is down where any counted check is down, else up where any counted check
  is up, else ``no_data``. Counted checks are the site's ``http`` checks (whether the
  site answers), or all its checks when it has none.
* Maintenance windows (the site's and the global ones, one-off and cron) are taken
  out of every other bucket by interval intersection.
* Everything is clipped to ``[start, end)``, so
  ``up + down + maintenance + no_data == end - start``.

The functions over samples and spans are pure; :func:`site_availability` and
:func:`check_availability` only add the store query.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from cronsim import CronSim

from sitewatch.config.maintenance import MaintenanceWindow

__all__ = [
    "EMPTY",
    "UPTIME_TYPES",
    "Availability",
    "Interval",
    "Observed",
    "Sample",
    "Span",
    "classify",
    "combine",
    "coverage",
    "maintenance_intervals",
    "outages",
    "tally",
    "tally_by",
]

Observed = Literal["up", "down", "no_data"]
Interval = tuple[float, float]

#: Check types that say whether a site answers; a site's availability is theirs.
UPTIME_TYPES = frozenset({"http"})


@dataclass(frozen=True, slots=True)
class Availability:
    """Seconds of a time range by what was observed; the four always add up to the range."""

    up: float  # seconds observed up
    down: float  # seconds observed down
    maintenance: float  # seconds excluded (maintenance windows)
    no_data: float  # seconds with no data (agent down / gaps), never counted as up

    @property
    def ratio(self) -> float | None:
        """``up / (up + down)``; None when nothing was observed outside maintenance."""
        observed = self.up + self.down
        return self.up / observed if observed > 0 else None

    @property
    def total(self) -> float:
        """The length of the range these seconds describe."""
        return self.up + self.down + self.maintenance + self.no_data

    def __add__(self, other: Availability) -> Availability:
        """Two adjacent ranges as one (the arithmetic is additive over time)."""
        return Availability(
            self.up + other.up,
            self.down + other.down,
            self.maintenance + other.maintenance,
            self.no_data + other.no_data,
        )


EMPTY = Availability(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Sample:
    """One recorded run, already classified."""

    at: float
    observed: Observed


@dataclass(frozen=True, slots=True)
class Span:
    """``[start, end)`` observed as ``observed`` (never ``no_data``: gaps are simply absent)."""

    start: float
    end: float
    observed: Observed


def classify(status: str, *, error_is_failure: bool = True) -> Observed:
    """What one result says about availability (see the module docstring)."""
    if status in ("ok", "warning"):
        return "up"
    if status == "critical":
        return "down"
    if status == "error":
        # Same rule as the incident state machine: with error_is_failure off, an error
        # is the probe's own trouble, so it proves neither up nor down.
        return "down" if error_is_failure else "no_data"
    return "no_data"  # a status this version does not know


def coverage(samples: Iterable[Sample], reach: float, start: float, end: float) -> list[Span]:
    """The up/down spans one check's samples cover inside ``[start, end)``, oldest first.

    Each sample lasts until the next one, at most ``reach`` seconds; equal-time samples
    leave only the last one. Adjacent spans of the same kind are merged.
    """
    ordered = sorted(samples, key=lambda s: s.at)
    out: list[Span] = []
    for i, sample in enumerate(ordered):
        stop = sample.at + reach
        if i + 1 < len(ordered):
            stop = min(stop, ordered[i + 1].at)
        lo, hi = max(sample.at, start), min(stop, end)
        if hi <= lo or sample.observed == "no_data":
            continue
        if out and out[-1].observed == sample.observed and out[-1].end == lo:
            out[-1] = Span(out[-1].start, hi, sample.observed)
        else:
            out.append(Span(lo, hi, sample.observed))
    return out


def combine(timelines: Iterable[Sequence[Span]]) -> list[Span]:
    """Site-level spans: down where any timeline is down, else up where any is up."""
    events: list[tuple[float, int, Observed]] = []
    for timeline in timelines:
        for span in timeline:
            events.append((span.start, 1, span.observed))
            events.append((span.end, -1, span.observed))
    events.sort(key=lambda e: e[0])
    counts = {"up": 0, "down": 0, "no_data": 0}
    out: list[Span] = []
    i = 0
    while i < len(events):
        at = events[i][0]
        while i < len(events) and events[i][0] == at:
            counts[events[i][2]] += events[i][1]
            i += 1
        if i == len(events):
            break
        state: Observed | None = "down" if counts["down"] else "up" if counts["up"] else None
        following = events[i][0]
        if state is None or following <= at:
            continue
        if out and out[-1].observed == state and out[-1].end == at:
            out[-1] = Span(out[-1].start, following, state)
        else:
            out.append(Span(at, following, state))
    return out


def _union(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for lo, hi in sorted(i for i in intervals if i[1] > i[0]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _window_intervals(window: MaintenanceWindow, start: float, end: float) -> Iterator[Interval]:
    if window.start is not None and window.until is not None:
        yield window.start.timestamp(), window.until.timestamp()
        return
    if window.cron is None or window.duration is None:  # pragma: no cover - the validator forbids it
        return
    # Occurrences that began up to `duration` before `start` still cover part of the range.
    # CronSim yields strictly after its origin; cron has minute resolution, so back off a second.
    origin = dt.datetime.fromtimestamp(start - window.duration - 1, dt.UTC)
    for begin in CronSim(window.cron, origin):
        at = begin.timestamp()
        if at >= end:
            return
        yield at, at + window.duration


def maintenance_intervals(windows: Iterable[MaintenanceWindow], start: float, end: float) -> list[Interval]:
    """The union of every window's occurrences, clipped to ``[start, end)``, sorted and disjoint.

    Overlapping windows (a site's and a global one) count once.
    """
    clipped = ((max(lo, start), min(hi, end)) for window in windows for lo, hi in _window_intervals(window, start, end))
    return _union(clipped)


def _overlap(lo: float, hi: float, merged: Sequence[Interval], ends: Sequence[float]) -> float:
    """Seconds of ``[lo, hi)`` inside the sorted, disjoint ``merged`` (``ends`` = their ends)."""
    total = 0.0
    i = bisect.bisect_right(ends, lo)
    while i < len(merged) and merged[i][0] < hi:
        total += max(0.0, min(hi, merged[i][1]) - max(lo, merged[i][0]))
        i += 1
    return total


def outages(spans: Iterable[Span], maintenance: Sequence[Interval], start: float, end: float) -> list[Interval]:
    """The down stretches inside ``[start, end)``, maintenance cut out (a window splits an outage in two)."""
    windows = _union((max(lo, start), min(hi, end)) for lo, hi in maintenance)
    out: list[Interval] = []
    for span in spans:
        lo, hi = max(span.start, start), min(span.end, end)
        if span.observed != "down" or hi <= lo:
            continue
        for w_lo, w_hi in windows:
            if w_hi <= lo or w_lo >= hi:
                continue
            if w_lo > lo:
                out.append((lo, w_lo))
            lo = max(lo, w_hi)
            if lo >= hi:
                break
        if hi > lo:
            out.append((lo, hi))
    return _union(out)  # touching pieces of one outage read as one


def tally(spans: Iterable[Span], maintenance: Sequence[Interval], start: float, end: float) -> Availability:
    """Count ``spans`` inside ``[start, end)``, maintenance taken out; the rest is ``no_data``.

    ``maintenance`` must be sorted and disjoint, as :func:`maintenance_intervals` returns it.
    """
    if end <= start:
        return EMPTY
    windows = _union((max(lo, start), min(hi, end)) for lo, hi in maintenance)
    ends = [hi for _, hi in windows]
    seconds = {"up": 0.0, "down": 0.0}
    for span in spans:
        lo, hi = max(span.start, start), min(span.end, end)
        if hi > lo and span.observed in seconds:
            seconds[span.observed] += (hi - lo) - _overlap(lo, hi, windows, ends)
    excluded = math.fsum(hi - lo for lo, hi in windows)
    # The remainder, so the four always add up; rounding must not make it negative.
    no_data = max(0.0, (end - start) - seconds["up"] - seconds["down"] - excluded)
    return Availability(seconds["up"], seconds["down"], excluded, no_data)


def tally_by(spans: Sequence[Span], maintenance: Sequence[Interval], edges: Sequence[float]) -> list[Availability]:
    """:func:`tally` of each ``[edges[i], edges[i + 1])`` in one pass (hour buckets of a month).

    ``spans`` must be sorted and disjoint (as :func:`coverage` and :func:`combine` return
    them), ``maintenance`` sorted and disjoint, ``edges`` ascending.
    """
    out = []
    first = 0
    span_ends = [s.end for s in spans]
    window_ends = [hi for _, hi in maintenance]
    for lo, hi in itertools.pairwise(edges):
        first = bisect.bisect_right(span_ends, lo, first)  # spans ending by `lo` are done with
        last = first
        while last < len(spans) and spans[last].start < hi:
            last += 1
        w_first = bisect.bisect_right(window_ends, lo)
        w_last = w_first
        while w_last < len(maintenance) and maintenance[w_last][0] < hi:
            w_last += 1
        out.append(tally(spans[first:last], maintenance[w_first:w_last], lo, hi))
    return out


# -- store glue ---------------------------------------------------------------------------
