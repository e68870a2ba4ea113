"""Where every finished run goes: the result book, the history buffer, the incident tracker, the log.

The history is buffered and written every few seconds (one transaction per flush instead of
one per run); status changes are logged once per transition, so a steady failure is one line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sitewatch.config.specs import CheckSpec
from sitewatch.engine.results import ResultBook, RunRecord
from sitewatch.incidents.tracker import IncidentTracker
from sitewatch.logs import event
from sitewatch.probe import Status
from sitewatch.store.database import Store

__all__ = ["ResultIntake"]


class ResultIntake:
    """Takes each :class:`RunRecord` from the scheduler; ``specs`` is replaced on every (re)load."""

    def __init__(self, book: ResultBook, store: Store, log: logging.Logger) -> None:
        self._book = book
        self._store = store
        self._log = log
        self._history: list[tuple[str, str, float, str, float]] = []
        self.specs: dict[tuple[str, str], CheckSpec] = {}
        #: Set once the tracker exists (it asks this intake for the latest status).
        self.incidents: IncidentTracker | None = None
        self.wake: Callable[[], None] = lambda: None

    def latest_status(self, site: str, check: str) -> Status | None:
        """The status of the check's newest run, or None before its first."""
        record = self._book.latest.get((site, check))
        return record.result.status if record else None

    def flush_history(self) -> None:
        """Write buffered results: one transaction per few seconds instead of one per run."""
        rows, self._history = self._history, []
        if rows:
            self._store.append_history(rows)

    def on_result(self, record: RunRecord) -> None:
        """Record a run; feed it to its incident; log a status change."""
        previous = self._book.latest.get(record.key)
        self._book.record(record)
        self._history.append((record.site, record.check, record.started, record.result.status.value, record.duration))
        spec = self.specs.get(record.key)
        if spec is not None and self.incidents is not None and self.incidents.observe(spec, record):
            self.wake()
        if previous is None or previous.result.status != record.result.status:
            event(
                self._log,
                logging.INFO if record.result.ok else logging.WARNING,
                "check_status",
                site=record.site,
                check=record.check,
                status=record.result.status.value,
                previous=previous.result.status.value if previous else "none",
                summary=record.result.summary,
            )
