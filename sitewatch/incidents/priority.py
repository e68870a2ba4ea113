"""Priority and SLA targets: facts of the incident and the client's contract, handed to the sinks.

A ticket sink renders the priority and the promised response and resolve times it is
given; it does not decide them. The targets are configured under ``tickets: sla:``
(:class:`sitewatch.config.tickets.SlaTarget`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from sitewatch.config.tickets import SlaTarget

__all__ = ["DEFAULT_TERMS", "IncidentTerms", "Priority", "Terms", "priority_for"]

#: The four priorities a site's incident can have, P1 the most urgent.
Priority = Literal["P1", "P2", "P3", "P4"]

#: severity → importance → priority. A site that matters more gets the faster SLA.
_MATRIX = {
    "critical": {"high": "P1", "normal": "P2", "low": "P3"},
    "error": {"high": "P1", "normal": "P2", "low": "P3"},
    "warning": {"high": "P2", "normal": "P3", "low": "P4"},
}


def priority_for(severity: str | None, importance: str = "normal") -> str:
    """Priority from the severity and the site's importance (recoveries keep P3 for display)."""
    return _MATRIX.get(severity or "", {}).get(importance, "P3")


class IncidentTerms(Protocol):
    """What the tracker needs of the contract: the SLA targets by priority and the clients' language."""

    @property
    def sla(self) -> Mapping[Priority, SlaTarget]:
        """The promised response and resolve times, by priority."""

    @property
    def language(self) -> str:
        """The language ticket texts are written in (``en`` or ``ru``)."""


@dataclass(frozen=True)
class Terms:
    """Plain :class:`IncidentTerms`, for a tracker built without a ``tickets:`` section."""

    sla: Mapping[Priority, SlaTarget] = field(default_factory=dict)
    language: str = "en"


#: No SLA targets, English texts: what an empty ``tickets:`` section means.
DEFAULT_TERMS = Terms()
