"""What detectors find, the pages they read, and small bounded-read helpers."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yarl

from checks.cms.versions import Version

__all__ = ["CMS_NAMES", "Finding", "Page", "meta_generators", "read_capped", "same_site_paths"]

#: Label values of ``cms`` (bounded).
CMS_NAMES = {"wordpress": "WordPress", "bitrix": "1C-Bitrix", "magento": "Magento", "openmage": "OpenMage"}

_MAX_FILE = 512 * 1024
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
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


def read_capped(path: Path, limit: int = _MAX_FILE) -> bytes | None:
    """The first ``limit`` bytes of a file; ``None`` if it does not exist. Blocking: call in a thread.

    Permission errors propagate: "cannot read" is an error to report, not "not installed".
    """
    try:
        with path.open("rb") as handle:
            return handle.read(limit)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


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
