"""The engine: the check registry (entry points), the scheduler that runs checks, the result book.

The scheduler turns every run into a :class:`RunRecord` in the :class:`ResultBook`; the
incident tracker, the metrics and the status page read from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sitewatch._lazy import lazy_exports

if TYPE_CHECKING:
    from sitewatch.engine.registry import RegistryError, load_checks
    from sitewatch.engine.results import ResultBook, RunRecord
    from sitewatch.engine.scheduler import Scheduler

__all__ = ["RegistryError", "ResultBook", "RunRecord", "Scheduler", "load_checks"]

__getattr__ = lazy_exports(
    __name__,
    {
        "registry": ("RegistryError", "load_checks"),
        "results": ("ResultBook", "RunRecord"),
        "scheduler": ("Scheduler",),
    },
)
