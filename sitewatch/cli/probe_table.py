"""The table ``sitewatch probe`` prints: problems first, the finding never cut."""

from __future__ import annotations

import shutil
from collections.abc import Sequence

from sitewatch.engine.results import RunRecord
from sitewatch.probe import Status, format_duration
from sitewatch.reports.table import color_wanted, render_table

__all__ = ["probe_table"]

#: The order a night engineer reads in: what is broken first, what could not be measured next.
_RANK = {Status.CRITICAL: 0, Status.ERROR: 1, Status.WARNING: 2, Status.OK: 3}


def probe_table(records: Sequence[RunRecord], *, tty: bool, wide: bool = False, failing: bool = False) -> str:
    """Rows sorted worst first, then by site and check; ``failing`` keeps only what is not ok.

    On a terminal the summary wraps to its width (``wide`` keeps one line per check); piped
    output is always one line per check.
    """
    chosen = [r for r in records if not (failing and r.result.status is Status.OK)]
    if not chosen:
        return "every check is ok" if failing else "no checks"
    chosen.sort(key=lambda r: (_RANK[r.result.status], r.site, r.check))
    rows = [
        [r.site, r.check, r.result.status.value.upper(), format_duration(r.duration), r.result.summary] for r in chosen
    ]
    width = shutil.get_terminal_size((160, 24)).columns if tty and not wide else None
    headers = ["SITE", "CHECK", "STATUS", "TIME", "SUMMARY"]
    return render_table(headers, rows, width, color_column=2 if color_wanted(tty) else None)
