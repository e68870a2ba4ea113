"""Advisories, snapshots of one source, and the book of every source's latest good snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Advisory", "AdvisoryBook", "Affected", "Snapshot", "SourceState"]


# Named tuples, not dataclasses: a full feed is ~40,000 of each, and tuples are the lightest
# immutable records. They stay tracked by the garbage collector (a gen-2 pass over a full
# snapshot took ~110 ms), so the real agent freezes them out of it after each publish
# (FeedRefresher's on_publish, sitewatch.runtime.freeze_long_lived).


class Affected(NamedTuple):
    """One affected range; a bound of ``None`` is open (``*`` in Wordfence, ``introduced: 0`` in OSV)."""

    low: str | None = None
    low_inclusive: bool = True
    high: str | None = None
    high_inclusive: bool = False


class Advisory(NamedTuple):
    """One vulnerability of one component, reduced to what a judgement needs.

    Versions stay text: each check compares them with its own version rules.
    """

    id: str
    title: str
    cve: str | None = None
    cvss: float | None = None  # base score 0-10, if the source gives or implies one
    rating: str | None = None  # critical | high | medium | low, as the source words it
    ranges: tuple[Affected, ...] = ()
    versions: tuple[str, ...] = ()  # exact versions listed as affected
    fixed: tuple[str, ...] = ()  # versions that fix it (patched_versions, OSV "fixed")
    exploited: bool = False  # the source says it is exploited in the wild
    url: str | None = None

    @property
    def label(self) -> str:
        """The CVE if there is one, else the source's own id."""
        return self.cve or self.id


@dataclass(frozen=True)
class Snapshot:
    """The parsed, indexed content of one source as of one good download."""

    source: str
    format: str
    fetched: float  # unix seconds of the download (or file change) it was read from
    records: int
    #: (ecosystem, lowercased name) → advisories; ecosystems: wordpress-plugin, wordpress-theme,
    #: wordpress-core, packagist, bitrix.
    index: Mapping[tuple[str, str], tuple[Advisory, ...]] = field(default_factory=dict)
    #: CVE ids a known-exploited list (CISA KEV format) names.
    exploited: frozenset[str] = frozenset()
    sha256: str = ""

    def age(self, now: float) -> float:
        """Seconds since the download."""
        return max(0.0, now - self.fetched)


@dataclass(frozen=True, slots=True)
class SourceState:
    """What checks may say about a configured source: what it covers and why it has no fresh data."""

    name: str
    format: str
    covers: tuple[str, ...]  # ecosystems
    problem: str | None = None  # the last refresh's failure, if it failed
    failing_since: float | None = None


class AdvisoryBook:
    """Every configured source and its latest good snapshot, as checks read them.

    The refresher swaps whole mappings (never mutates one in place), so a check that
    reads the book mid-refresh sees the old state or the new one, never half of each.
    """

    def __init__(self) -> None:
        self._sources: Mapping[str, SourceState] = {}
        self._snapshots: Mapping[str, Snapshot] = {}

    @property
    def sources(self) -> Mapping[str, SourceState]:
        """Configured sources by name."""
        return self._sources

    @property
    def snapshots(self) -> Mapping[str, Snapshot]:
        """The latest good snapshot of each source that has one."""
        return self._snapshots

    def configure(self, sources: Mapping[str, SourceState]) -> None:
        """Take the (re)loaded list of sources; snapshots of removed sources are dropped."""
        self._sources = dict(sources)
        self._snapshots = {k: v for k, v in self._snapshots.items() if k in sources}

    def publish(self, snapshot: Snapshot) -> None:
        """Make ``snapshot`` the one checks read for its source (its problem is cleared)."""
        self._snapshots = {**self._snapshots, snapshot.source: snapshot}
        self.failed(snapshot.source, None, None)

    def failed(self, source: str, problem: str | None, since: float | None) -> None:
        """Record why the last refresh of ``source`` failed (``None``: it worked)."""
        state = self._sources.get(source)
        if state is not None:
            new = SourceState(state.name, state.format, state.covers, problem, since)
            self._sources = {**self._sources, source: new}

    def covering(self, ecosystem: str) -> list[SourceState]:
        """Configured sources whose format covers ``ecosystem``."""
        return [s for s in self._sources.values() if ecosystem in s.covers]

    def exploited(self) -> frozenset[str]:
        """Every CVE a known-exploited source lists."""
        out: frozenset[str] = frozenset()
        for snapshot in self._snapshots.values():
            out |= snapshot.exploited
        return out
