"""When failures become an incident: the state machine's settings, as configured per check.

A leaf (no I/O, no other sitewatch module), so the pure state machine can take it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Policy"]


@dataclass(frozen=True, slots=True)
class Policy:
    """When a run of failures becomes an incident, and when it is over."""

    fail_after: int = 3
    recover_after: int = 2
    fail_for: float | None = None  # seconds failing that open an incident even before fail_after
    error_is_failure: bool = True
    flap_changes: int = 6  # this many ok↔failing flips…
    flap_window: float = 3600.0  # …within this many seconds is flapping
    incidents: bool = True  # false: export only, never open a local incident (quorum-watched checks)
