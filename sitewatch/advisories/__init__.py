"""Vulnerability advisories from offline snapshots: the parsed, indexed form checks read.

Pure data and parsing, no I/O: :mod:`sitewatch.feeds` downloads and caches the snapshots
and publishes them into an :class:`AdvisoryBook`; checks read that book through
:class:`sitewatch.probe.Context` and never fetch anything themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.advisories.cvss import cvss3_base_score
    from sitewatch.advisories.formats import FORMATS, coverage, parse_snapshot
    from sitewatch.advisories.model import Advisory, AdvisoryBook, Affected, Snapshot, SourceState

__all__ = [
    "FORMATS",
    "Advisory",
    "AdvisoryBook",
    "Affected",
    "Snapshot",
    "SourceState",
    "coverage",
    "cvss3_base_score",
    "parse_snapshot",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "cvss": ("cvss3_base_score",),
        "formats": ("FORMATS", "coverage", "parse_snapshot"),
        "model": ("Advisory", "AdvisoryBook", "Affected", "Snapshot", "SourceState"),
    },
)
