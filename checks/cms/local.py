"""Reading the install under ``root``: the check's own file workers, each detector in turn, a budget.

Separate from the check because this is its only blocking side: local detection reads someone
else's docroot (a FIFO, a hung NFS mount), so it runs in a few daemon threads of this check's
own, never the event loop's shared executor, and never for longer than the run can spare.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from checks.cms import bitrix, magento, wordpress
from checks.cms.model import Finding, Reader
from sitewatch.probe import FileWorkers, StillRunning, describe_os_error, format_duration

__all__ = ["FILES", "bounded", "detect_local", "listed"]

T = TypeVar("T")
#: Local detection reads someone else's docroot (a FIFO, a hung NFS mount): a few daemon threads
#: of this check's own, never the event loop's shared executor.
FILES = FileWorkers("cms-files", size=4)


def detect_local(root: Path | None, kinds: tuple[str, ...]) -> tuple[Finding | None, dict[str, str]]:
    """The first of ``kinds`` installed under ``root``, and the paths it could not read (blocking)."""
    if root is None:
        return None, {}
    if not root.is_dir():
        raise FileNotFoundError(f"root {root} is not a directory")
    detectors = {
        "wordpress": wordpress.detect_local,
        "bitrix": bitrix.detect_local,
        "magento": magento.detect_local,
    }
    reader = Reader()
    for kind in kinds:
        found = detectors[kind](root, reader)
        if found is not None:
            return found, reader.unreadable
    return None, reader.unreadable


async def bounded(key: str, func: Callable[[], T], budget: float) -> tuple[T | None, str | None]:
    """Run blocking ``func`` in the check's own file workers for at most ``budget`` seconds; errors become text."""
    try:
        async with asyncio.timeout(budget):
            return await FILES.run(key, func), None
    except TimeoutError:
        return None, f"reading files took longer than {format_duration(budget)}"
    except StillRunning as exc:
        stuck = format_duration(exc.seconds)
        return None, f"the previous read of {key} is still stuck after {stuck} (hung filesystem?)"
    except OSError as exc:
        return None, str(exc) if isinstance(exc, FileNotFoundError) else f"{describe_os_error(exc)}: {exc.filename}"


def listed(unreadable: dict[str, str], root: Path | None) -> str:
    """``wp-config.php (permission denied)``, relative to ``root``; at most two paths, then a count."""
    names = [f"{os.path.relpath(p, root) if root else p} ({why})" for p, why in unreadable.items()]
    return ", ".join(names[:2]) + (f" and {len(names) - 2} more" if len(names) > 2 else "")
