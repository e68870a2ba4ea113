"""The engine: the scheduler that runs the configured checks, and the result book it fills.

The scheduler turns every run into a :class:`RunRecord` in the :class:`ResultBook`; the
incident tracker, the metrics and the status page read from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.engine.results import ResultBook, RunRecord
    from sitewatch.engine.scheduler import Scheduler

__all__ = ["ResultBook", "RunRecord", "Scheduler"]

__getattr__ = lazy_exports(
    __name__,
    {
        "results": ("ResultBook", "RunRecord"),
        "scheduler": ("Scheduler",),
    },
)
