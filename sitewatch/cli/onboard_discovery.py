"""What onboarding a site works with besides the probes: the URL typed, what was found, the thresholds.

``add-site`` parses the URL (:func:`site_url`), the probe (:mod:`sitewatch.cli.onboard`) fills in a
:class:`Discovery`, and the renderer (:mod:`sitewatch.cli.onboard_render`) turns it into YAML with
thresholds derived here. Kept apart from the probing so the renderer and the rules' tests need
neither the check registry nor a scheduler.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import yarl

__all__ = [
    "FAILURE_PAGES",
    "Discovery",
    "OnboardError",
    "backup_thresholds",
    "pageload_thresholds",
    "site_url",
]

#: Pages that answer 200 while the site is broken; the http check written for a new site refuses them.
FAILURE_PAGES = (
    ("Fatal error", "PHP"),
    ("Error establishing a database connection", "WordPress"),
    ("DB query error", "1C-Bitrix"),
)


class OnboardError(Exception):
    """The site cannot be onboarded as given; the message says what to do next."""


@dataclass
class Discovery:
    """Everything one probe of a new site found, for the YAML writer and the report."""

    url: str  # canonical: where the redirects ended, without query or fragment
    https: bool
    untrusted: bool = False  # https with a certificate this server's store does not trust
    http_summary: str = ""
    redirects: int = 0
    load_median: float | None = None
    load_samples: int = 0
    pageload_summary: str = ""
    tls_summary: str | None = None
    domain_summary: str | None = None  # None: the host is an IP address, so there is no domain to watch
    cms: str | None = None
    cms_version: str | None = None
    cms_source: str | None = None
    cms_summary: str = ""
    backup_summary: str | None = None
    backup_size: float | None = None  # bytes of the newest backup seen
    backup_age: float | None = None  # seconds since it was written
    notes: list[str] = field(default_factory=list)

    @property
    def thresholds(self) -> tuple[float, float]:
        """(warn, crit) for the pageload check."""
        return pageload_thresholds(self.load_median)


def pageload_thresholds(median: float | None) -> tuple[float, float]:
    """warn = max(1 s, 3 × median), rounded up to 100 ms; crit = 2 × warn.

    Three times today's median leaves room for a busy hour and a cold cache, so only a
    real slowdown warns; one second is the floor because below it nobody can act on a
    warning anyway. Critical at twice the warning: a page that slow is losing visitors.
    """
    base = 3 * median if median is not None else 1.0
    warn = max(1.0, math.ceil(base * 10 - 1e-9) / 10)
    return warn, round(2 * warn, 1)


def backup_thresholds(size: float | None, age: float | None) -> tuple[str, str]:
    """(max_age, min_size) for the backup check that the backup just measured passes.

    ``max_age`` is 26 h (a nightly job plus slack) unless the newest backup is already older:
    then twice its age, in whole hours, so the new site starts OK and an engineer can tighten it.
    ``min_size`` is 1KB, or half of the newest backup when that is smaller (a tiny site's dump of
    814 B must not be critical the moment it is watched).
    """
    hours = 26 if age is None or age < 26 * 3600 else math.ceil(2 * age / 3600)
    if size is None or size >= 2000:
        return f"{hours}h", "1KB"
    return f"{hours}h", f"{max(1, int(size // 2))}B"


def site_url(text: str) -> yarl.URL:
    """Parse what the user typed; a bare host name means https."""
    text = text.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        url = yarl.URL(text)
    except ValueError:
        url = yarl.URL()
    if url.scheme not in ("http", "https") or not url.host:
        raise OnboardError(f"expected a site URL like https://shop.example.com/, got {text!r}")
    if url.user is not None or url.password is not None:
        raise OnboardError("leave credentials out of the site URL: add basic_auth: to the http check afterwards")
    return url.with_query(None).with_fragment(None).with_path(url.path or "/")
