"""Incidents: the pure state machine, the tracker that feeds it results, priority and SLA terms.

``state`` is pure (no I/O); ``tracker`` applies its transitions to the store, which writes
the change and the outbox row together. It reads maintenance windows, the policy and the
SLA targets from the configuration and silences from the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.incidents.priority import IncidentTerms, priority_for
    from sitewatch.incidents.state import CheckState, IncidentEvent, OpenIncident, step
    from sitewatch.incidents.tracker import IncidentStore, IncidentTracker, incident_key

__all__ = [
    "CheckState",
    "IncidentEvent",
    "IncidentStore",
    "IncidentTerms",
    "IncidentTracker",
    "OpenIncident",
    "incident_key",
    "priority_for",
    "step",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "state": ("CheckState", "IncidentEvent", "OpenIncident", "step"),
        "tracker": ("IncidentStore", "IncidentTracker", "incident_key"),
        "priority": ("IncidentTerms", "priority_for"),
    },
)
