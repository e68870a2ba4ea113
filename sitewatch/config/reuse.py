"""What one load has already worked out, so it is not worked out twice: parsed URLs and the running config.

Validating a site parses its URL and building the site needs it again; a reload builds a
config next to the running one, and every site, check and setting equal to its running
counterpart is then that very object (one copy of what did not change, and the scheduler
sees at once what did). Both stages and the site model's URL validator share this record.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yarl

if TYPE_CHECKING:  # the specs are only looked at here; their module imports the site models, which import this
    from sitewatch.config.specs import CheckSpec, Config, SiteSpec

__all__ = ["Parsed"]


@dataclass
class Parsed:
    """What one load has already worked out, so it is not worked out twice."""

    #: URLs parsed while validating the sites, by their text.
    urls: dict[str, yarl.URL] = dataclasses.field(default_factory=dict)
    #: The running config's sites and checks, by name: equal ones are taken from there.
    sites: dict[str, SiteSpec] = dataclasses.field(default_factory=dict)
    checks: dict[tuple[str, str], CheckSpec] = dataclasses.field(default_factory=dict)

    @classmethod
    def reusing(cls, previous: Config | None) -> Parsed:
        """Remember the running config's sites and checks (none without one)."""
        if previous is None:
            return cls()
        return cls(
            sites={s.info.name: s for s in previous.sites},
            checks={c.key: c for s in previous.sites for c in s.checks},
        )

    def same(self, new: Any, old: Any) -> Any:
        """``old`` when it equals ``new`` (the running copy stays, the new one is freed), else ``new``."""
        return old if old is not None and old == new else new
