"""Texts for people, in their language: durations and plurals (Babel), local times, findings.

Machines keep the stable English forms (logs, ``/api``, metrics, UTC); everything a person reads
in a ticket, on a page or in a report goes through here with a language code (``en``, ``ru``)
and, for times, an IANA zone. Unknown languages fall back to English.
"""

from sitewatch.i18n.catalog import LANGUAGES, Language, plural, severity_word, text
from sitewatch.i18n.findings import finding
from sitewatch.i18n.formats import duration, local_time, number, percent, short_duration

__all__ = [
    "LANGUAGES",
    "Language",
    "duration",
    "finding",
    "local_time",
    "number",
    "percent",
    "plural",
    "severity_word",
    "short_duration",
    "text",
]
