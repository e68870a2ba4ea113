"""``sitewatch silence``: silence a site for planned work, list what is silenced, lift a silence."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Collection
from pathlib import Path

from sitewatch.cli.tickets import acting_person
from sitewatch.probe import format_duration, parse_duration
from sitewatch.reports.table import render_table
from sitewatch.store.database import Store
from sitewatch.store.silences import active, add, lift

__all__ = ["silence_command"]

EXIT_USAGE = 3


def _local(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def silence_command(
    db_path: Path,
    sites: Collection[str],
    what: str,
    target: str | None,
    *,
    duration: str | None,
    reason: str | None,
    by: str | None,
) -> int:
    """``what`` is ``list``, ``lift`` (``target``: an id or a site) or a site to silence."""
    now = time.time()
    if what == "list":
        return _list(db_path, now)
    if what == "lift":
        if not target:
            print("sitewatch: `silence lift` needs a silence id or a site (`silence list` shows them)", file=sys.stderr)
            return EXIT_USAGE
        return _lift(db_path, target, now, acting_person(by))
    site = target if what == "add" else what
    if not site or site not in sites:
        print(f"sitewatch: no site {site!r} (sites: {', '.join(sorted(sites)) or 'none'})", file=sys.stderr)
        return EXIT_USAGE
    if not duration or not reason:
        print("sitewatch: silencing a site needs --for (e.g. 2h) and --reason", file=sys.stderr)
        return EXIT_USAGE
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        print(f"sitewatch: --for: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if seconds <= 0:
        print(
            f"sitewatch: --for {duration} would silence nothing; to end a silence use `silence lift`", file=sys.stderr
        )
        return EXIT_USAGE
    store = Store(db_path)
    try:
        number = add(store, site, until=now + seconds, reason=reason, author=acting_person(by), at=now)
    finally:
        store.close()
    print(f"silence {number}: {site} opens no new incidents for {format_duration(seconds)} ({reason})")
    return 0


def _list(db_path: Path, now: float) -> int:
    if not db_path.exists():
        print("no silences")
        return 0
    store = Store.open_readonly(db_path)
    try:
        rows = active(store, now)
    finally:
        store.close()
    table = [[str(s.id), s.site, _local(s.until), s.author or "-", s.reason] for s in rows]
    print(render_table(["ID", "SITE", "UNTIL", "BY", "REASON"], table) if table else "no silences")
    return 0


def _lift(db_path: Path, target: str, now: float, by: str) -> int:
    store = Store(db_path)
    try:
        lifted = lift(store, target, now, by)
    finally:
        store.close()
    if not lifted:
        print(f"sitewatch: no active silence {target!r}; `sitewatch silence list` shows them", file=sys.stderr)
        return 1
    print(f"lifted silence {', '.join(map(str, lifted))}")
    return 0
