"""Incidents: the pure state machine, the tracker that feeds it results, maintenance windows, priority and SLA targets.

``state`` is pure (no I/O); ``tracker`` applies its transitions to the store, which writes
the change and the outbox row together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.incidents.maintenance import MaintenanceWindow, active
    from sitewatch.incidents.priority import SlaTarget, priority_for
    from sitewatch.incidents.state import CheckState, IncidentEvent, Policy, step
    from sitewatch.incidents.tracker import IncidentTracker, incident_key

__all__ = [
    "CheckState",
    "IncidentEvent",
    "IncidentTracker",
    "MaintenanceWindow",
    "Policy",
    "SlaTarget",
    "active",
    "incident_key",
    "priority_for",
    "step",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "priority": ("SlaTarget", "priority_for"),
        "state": ("CheckState", "IncidentEvent", "Policy", "step"),
        "tracker": ("IncidentTracker", "incident_key"),
        "maintenance": ("MaintenanceWindow", "active"),
    },
)
