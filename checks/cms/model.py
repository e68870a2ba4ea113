"""What detectors find, the pages they read, and small bounded-read helpers."""

from __future__ import annotations

import errno
import html
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yarl

from checks.cms.versions import Version
from sitewatch.probe import describe_os_error, read_regular

__all__ = ["CMS_NAMES", "Finding", "Page", "feed_links", "meta_generators", "Reader", "same_site_paths"]

#: Label values of ``cms`` (bounded).
CMS_NAMES = {"wordpress": "WordPress", "bitrix": "1C-Bitrix", "magento": "Magento", "openmage": "OpenMage"}

_MAX_FILE = 512 * 1024
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_LINK = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_FEED_TYPES = {"application/rss+xml", "application/atom+xml"}
_SRC = re.compile(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One answer to "which CMS, which version" from one source (``local`` or ``remote``)."""

    cms: str
    version: Version | None
    source: str
    where: str = ""  # the file or URL path the version came from
    edition: str = ""
    eol: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """Human name with edition, e.g. ``Magento 2 (community)``."""
        name = CMS_NAMES.get(self.cms, self.cms)
        return f"{name} ({self.edition})" if self.edition else name

    def describe(self) -> str:
        """``WordPress 6.4.2`` or ``WordPress, version unknown``."""
        name = CMS_NAMES.get(self.cms, self.cms)
        if self.version is None:
            return f"{name}, version unknown"
        return f"{name} {self.version}" + (".x" if self.extra.get("precision") == "release line" else "")


@dataclass(frozen=True)
class Page:
    """A fetched response, reduced to what fingerprinting needs."""

    url: yarl.URL
    status: int
    headers: Mapping[str, tuple[str, ...]]  # lower-case names, every value kept (Set-Cookie repeats)
    body: str
    truncated: bool = False  # the body was cut at ``max_body``: a signal past it was not seen

    def header(self, name: str) -> str:
        """All values of a header joined with ``, ``."""
        return ", ".join(self.headers.get(name.lower(), ()))

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300


class Reader:
    """Reads the files of one local detection: regular files only, capped, and failures noted, not fatal.

    A file that cannot be read (permission denied, a FIFO, a symlink loop) is recorded in
    ``unreadable`` (path -> reason) and treated as absent, so one unreadable side file never
    aborts detection. Blocking: use in a worker thread.
    """

    def __init__(self) -> None:
        self.unreadable: dict[str, str] = {}

    def read(self, path: Path, limit: int = _MAX_FILE) -> bytes | None:
        """The first ``limit`` bytes of ``path``; ``None`` if absent or unreadable (then noted)."""
        try:
            return read_regular(path, limit)
        except OSError as exc:
            self.note(path, exc)
            return None

    def is_dir(self, path: Path) -> bool:
        """Whether ``path`` is a directory; a failure other than "absent" is noted."""
        try:
            return path.is_dir()
        except OSError as exc:
            self.note(path, exc)
            return False

    def entries(self, path: Path, pattern: str = "*") -> list[Path]:
        """Sorted entries of the directory ``path`` matching ``pattern``; ``[]`` (noted) if it cannot be listed."""
        try:
            return sorted(path.glob(pattern)) if pattern != "*" else sorted(path.iterdir())
        except OSError as exc:
            self.note(path, exc)
            return []

    def note(self, path: Path, exc: OSError) -> None:
        """Record why ``path`` could not be read; a symlink loop is named once, at the looping link."""
        if exc.errno == errno.ELOOP:
            path = _first_loop(path)
        self.unreadable.setdefault(str(path), describe_os_error(exc))


def _first_loop(path: Path) -> Path:
    """The shortest prefix of ``path`` that is itself a symlink loop (``current -> current``)."""
    for prefix in (*reversed(path.parents), path):
        try:
            os.stat(prefix)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return prefix
    return path


def _attrs(tag: str) -> dict[str, str]:
    return {m[1].lower(): html.unescape(m[2] or m[3] or m[4] or "") for m in _ATTR.finditer(tag)}


def meta_generators(body: str) -> list[str]:
    """``content`` of every ``<meta name="generator">`` tag, in any attribute order."""
    out = []
    for tag in _META.findall(body):
        attrs = _attrs(tag)
        if attrs.get("name", "").lower() == "generator" and "content" in attrs:
            out.append(attrs["content"].strip())
    return out


def feed_links(body: str, base: yarl.URL) -> list[yarl.URL]:
    """Feeds the page advertises (``<link rel="alternate" type="application/rss+xml">``) on its own host.

    With plain permalinks WordPress has no ``/feed/``; its feed is ``/?feed=rss2``, and the
    page says so.
    """
    out = []
    for tag in _LINK.findall(body):
        attrs = _attrs(tag)
        rels = attrs.get("rel", "").lower().split()
        if "alternate" not in rels or attrs.get("type", "").lower() not in _FEED_TYPES or not attrs.get("href"):
            continue
        try:
            url = base.join(yarl.URL(attrs["href"]))
        except ValueError:
            continue
        if url.host == base.host and url.scheme in ("http", "https"):
            out.append(url)
    return out


def same_site_paths(body: str, base: yarl.URL) -> list[str]:
    """Paths of ``src``/``href`` URLs that point at the page's own host (relative ones included)."""
    out = []
    host = f"//{base.host}".lower()
    for raw in _SRC.findall(body):
        # Fast paths: root-relative and absolute URLs need no URL parsing to judge their host.
        if raw.startswith("/") and not raw.startswith("//"):
            out.append(raw.split("?", 1)[0].split("#", 1)[0])
            continue
        if "//" in raw[:8] and host not in raw[: 8 + len(host)].lower():
            continue
        try:
            url = base.join(yarl.URL(html.unescape(raw)))
        except ValueError:
            continue
        if url.host == base.host:
            out.append(url.path)
    return out
