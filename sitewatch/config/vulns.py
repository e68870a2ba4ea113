"""``vulnerabilities:`` — where the advisory snapshots come from and how they are refreshed.

The agent downloads each source on its own schedule (:mod:`sitewatch.feeds`), keeps the
last good copy on disk and hands the parsed snapshot to checks; a check never fetches.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yarl

from sitewatch.probe import Duration, Size

__all__ = ["FeedConfig", "VulnerabilitiesConfig"]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


def _url(value: Any) -> str:
    url = yarl.URL(str(value))
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"expected an http(s) URL, got {str(value)!r} (a file on disk goes in path:)")
    return str(value)


class FeedConfig(_Model):
    """One source: a URL (refreshed every ``refresh``) or a file on disk (re-read when it changes)."""

    format: Literal["wordfence", "osv", "curated", "kev"]
    url: Annotated[str, pydantic.BeforeValidator(_url)] | None = None
    path: Path | None = None
    #: OSV and curated files: the ecosystem they judge (OSV's ``Packagist``; curated: ``bitrix``).
    ecosystem: str | None = None
    refresh: Annotated[Duration, pydantic.Field(ge=60)] = 12 * 3600.0
    #: After a failed refresh, try again this soon (never more often than every minute).
    retry: Annotated[Duration, pydantic.Field(ge=60)] = 1800.0
    timeout: Annotated[Duration, pydantic.Field(gt=0)] = 300.0
    #: Larger downloads (after decompression) are refused; the good snapshot stays.
    max_size: Annotated[Size, pydantic.Field(gt=0)] = 256 * 10**6
    #: Pin the exact file (a mirror's or a vendored snapshot's): any other content is refused.
    sha256: str | None = None
    #: Sent as ``Authorization: Bearer …`` (Wordfence v3 needs an API key); write ``${ENV}``.
    token: str | None = pydantic.Field(default=None, repr=False)

    @pydantic.model_validator(mode="after")
    def _one_place(self) -> FeedConfig:
        if (self.url is None) == (self.path is None):
            raise ValueError("expected exactly one of url: or path:")
        if self.path is not None and not self.path.is_absolute():
            raise ValueError(f"expected an absolute path:, got {str(self.path)!r}")
        return self

    @pydantic.field_validator("sha256")
    @classmethod
    def _sha(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256.fullmatch(value.lower()):
            raise ValueError("expected 64 hexadecimal digits (sha256sum's output)")
        return value.lower() if value else None


class VulnerabilitiesConfig(_Model):
    """Advisory sources by name (a name becomes a metric label and a cache file name)."""

    #: Where good snapshots are kept across restarts; default ``<agent.state_dir>/vulnerabilities``.
    cache_dir: Path | None = None
    sources: dict[str, FeedConfig] = {}

    @pydantic.field_validator("sources")
    @classmethod
    def _names(cls, value: dict[str, FeedConfig]) -> dict[str, FeedConfig]:
        for name in value:
            if not _NAME.fullmatch(name):
                raise ValueError(f"expected source names of lowercase letters, digits, '-' or '_', got {name!r}")
        return value
