"""The SQLite store: schema, migrations, incidents, the ticket outbox, silences, result history, and read-only queries.

It records and claims; it delivers nothing (the outbox is drained by ``sitewatch.tickets``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.store.database import OutboxRow, Store
    from sitewatch.store.queries import HistoryRow, IncidentRow, history, incidents

__all__ = ["HistoryRow", "IncidentRow", "OutboxRow", "Store", "history", "incidents"]

__getattr__ = lazy_exports(
    __name__,
    {
        "database": ("OutboxRow", "Store"),
        "queries": ("HistoryRow", "IncidentRow", "history", "incidents"),
    },
)
