"""Finding backup files: glob matching that reports unreadable directories.

:func:`glob.glob` silently skips a directory it cannot list, which would turn
"the agent may not read /var/backups" into "no backups" at 3 a.m. This walker
matches the same patterns (``*``, ``?``, ``[...]`` per path component, ``**``
for any depth, hidden names only when the pattern starts with a dot) and
records every directory it was refused. It is blocking: call it in a thread.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import pwd
import stat
import threading
import time
from dataclasses import dataclass, field

__all__ = ["Deadline", "FileInfo", "Listing", "agent_user", "scan"]


class Deadline(Exception):
    """Raised inside a worker thread when its time is up or the run was cancelled."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One candidate backup file."""

    path: str
    size: int
    mtime: float
    mtime_ns: int
    when: float  # the backup's time: mtime, or the timestamp in its name


@dataclass
class Listing:
    """What the walk found: regular files, refused directories and other failures."""

    files: dict[str, os.stat_result] = field(default_factory=dict)
    denied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def agent_user() -> str:
    """Name of the user the agent runs as (its effective uid), for permission advice."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no passwd entry (DynamicUser=, containers)
        return f"uid {uid}"


def scan(patterns: tuple[str, ...], deadline: float, stop: threading.Event) -> Listing:
    """Match every pattern; gives up at ``deadline`` (a :func:`time.monotonic` instant) or when ``stop`` is set."""
    out = Listing()
    for pattern in patterns:
        parts = pattern.strip("/").split("/")
        _walk("/", parts, out, (deadline, stop))
    return out


def _walk(base: str, parts: list[str], out: Listing, bound: tuple[float, threading.Event]) -> None:
    deadline, stop = bound
    if stop.is_set() or time.monotonic() > deadline:
        raise Deadline(f"listing {base}")
    if not parts:
        _add_file(base, out)
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        _walk(base, rest, out, bound)  # zero directories
        for name, is_dir in _entries(base, out):
            if is_dir and not name.startswith("."):
                _walk(os.path.join(base, name), parts, out, bound)
        return
    if not glob.has_magic(head):
        path = os.path.join(base, head)
        if rest:
            try:
                if not stat.S_ISDIR(os.stat(path).st_mode):
                    return
            except PermissionError:  # ``base`` may be listed but not traversed (no x bit)
                out.denied.append(base)
                return
            except (FileNotFoundError, NotADirectoryError):
                _note_missing(path, out)
                return
        _walk(path, rest, out, bound)
        return
    for name, is_dir in _entries(base, out):
        if name.startswith(".") and not head.startswith("."):
            continue
        if fnmatch.fnmatchcase(name, head) and (is_dir or not rest):
            _walk(os.path.join(base, name), rest, out, bound)


def _entries(directory: str, out: Listing) -> list[tuple[str, bool]]:
    try:
        with os.scandir(directory) as it:
            # follow_symlinks=False for directories: a symlink loop must not recurse forever
            return [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    except PermissionError:
        out.denied.append(directory)
    except FileNotFoundError:
        _note_missing(directory, out)
    except NotADirectoryError:
        pass
    return []


def _add_file(path: str, out: Listing) -> None:
    try:
        st = os.stat(path)
    except PermissionError:
        out.denied.append(os.path.dirname(path))
        return
    except (FileNotFoundError, NotADirectoryError):  # a literal pattern that does not exist, or a race
        _note_missing(path, out)
        return
    if stat.S_ISREG(st.st_mode):
        out.files[path] = st


def _note_missing(path: str, out: Listing) -> None:
    # Report the deepest ancestor that exists: "/var/backups/shop does not exist" is actionable.
    while path != "/" and not os.path.exists(os.path.dirname(path)):
        path = os.path.dirname(path)
    if path not in out.missing:
        out.missing.append(path)
