"""The ``domain`` check's memory: one JSON file per domain, written atomically.

It is what keeps the check to one registry query per domain per ``refresh`` (and
none while a ``Retry-After`` runs), across restarts and across sites sharing a domain.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import weakref
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["Entry", "load", "lock", "save"]

#: Per event loop (a lock belongs to one loop), per domain; a closed loop's locks go with it.
_MEMORY: dict[Path, Entry] = {}
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


@dataclass
class Entry:
    """The last answer and the last attempt for one domain."""

    domain: str
    fetched: float | None = None  # when the last good answer came
    expiry: float | None = None
    statuses: list[str] = field(default_factory=list)
    registrar: str = ""
    source: str = ""
    attempted: float | None = None  # when the registry was last asked
    error: str | None = None  # the last attempt's failure, None if it succeeded
    not_before: float | None = None  # no query before this (the server's Retry-After)


def _path(cache_dir: Path, domain: str) -> Path:
    return cache_dir / f"{hashlib.sha256(domain.encode()).hexdigest()[:20]}.json"


def _read(path: Path, domain: str) -> Entry:
    try:
        document: Any = json.loads(path.read_bytes())
        entry = Entry(**{k: v for k, v in document.items() if k in Entry.__dataclass_fields__})
    except (OSError, ValueError, TypeError, AttributeError):
        return Entry(domain)  # missing or damaged: ask again
    return entry if entry.domain == domain else Entry(domain)


def _write(path: Path, entry: Entry) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(entry)), "utf-8")
    os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new file


async def load(cache_dir: Path, domain: str) -> Entry:
    """The entry for ``domain``: this process' copy, else the file (an empty entry if neither)."""
    path = _path(cache_dir, domain)
    entry = _MEMORY.get(path)
    if entry is None:
        entry = _MEMORY[path] = await asyncio.to_thread(_read, path, domain)
    return replace(entry, statuses=list(entry.statuses))


async def save(cache_dir: Path, entry: Entry) -> None:
    """Remember ``entry`` and write it atomically; raises OSError if the directory is not writable.

    The process keeps its copy either way, so an unwritable directory still means one query
    per ``refresh`` (until a restart), not one per run.
    """
    path = _path(cache_dir, entry.domain)
    _MEMORY[path] = entry
    await asyncio.to_thread(_write, path, entry)


def lock(domain: str) -> asyncio.Lock:
    """One lock per domain and event loop: two sites of one domain make one query."""
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(domain, asyncio.Lock())
