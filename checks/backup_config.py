"""Settings of the ``backup`` check and the file-name timestamp pattern they use."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import pydantic
import yarl

from sitewatch.probe import CheckConfig, Duration, Size

__all__ = ["BackupConfig", "NameTime", "Source"]

#: Where the backup is looked for. ``heartbeat`` (the job pings the agent) is planned and
#: will be one more value here with its own keys, so each source's keys stay distinct.
Source = Literal["files", "url"]

# strptime directives a file-name timestamp may use, and the text each one matches.
_DIRECTIVES = {
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "m": r"\d{2}",
    "d": r"\d{2}",
    "H": r"\d{2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
    "j": r"\d{3}",
    "b": r"[A-Za-z]{3}",
    "z": r"[+-]\d{4}|Z",
    "%": "%",
}
_DIRECTIVE = re.compile(r"%(.)")
_FILE_KEYS = ("path", "name_time", "min_count", "min_ratio", "max_total", "verify", "verify_every")
_URL_KEYS = ("url", "headers", "verify_tls")


@dataclass(frozen=True, slots=True)
class NameTime:
    """A strptime pattern searched for in file names, e.g. ``%Y-%m-%d_%H%M``.

    The pattern is turned into a regular expression so it can sit anywhere in the
    name (``shop-2026-11-24_0300.tar.gz``); the matched text is then parsed with
    :func:`datetime.strptime`. Without ``%z`` the time is the agent's local time,
    which is what a backup job on the same server writes.
    """

    pattern: str
    regex: re.Pattern[str]

    def parse(self, name: str) -> float | None:
        """Unix seconds of the timestamp in ``name``, or None when it has none."""
        found = self.regex.search(name)
        if found is None:
            return None
        try:
            stamp = datetime.strptime(found.group(0), self.pattern)
        except ValueError:  # e.g. month 13: the shape matched, the date does not exist
            return None
        if stamp.tzinfo is not None:
            return stamp.timestamp()
        return time.mktime(stamp.timetuple())


def _name_time(value: Any) -> NameTime:
    if isinstance(value, NameTime):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a strptime pattern like '%Y-%m-%d_%H%M', got {value!r}")
    parts: list[str] = []
    last = 0
    for match in _DIRECTIVE.finditer(value):
        code = match.group(1)
        if code not in _DIRECTIVES:
            known = " ".join(f"%{c}" for c in _DIRECTIVES)
            raise ValueError(f"unsupported directive %{code} in {value!r} (supported: {known})")
        parts += [re.escape(value[last : match.start()]), f"(?:{_DIRECTIVES[code]})"]
        last = match.end()
    parts.append(re.escape(value[last:]))
    if not {"Y", "y"} & set(_DIRECTIVE.findall(value)):
        raise ValueError(f"pattern {value!r} has no year (%Y or %y); a name without a date cannot be ordered")
    return NameTime(value, re.compile("".join(parts)))


def _paths(value: Any) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items or not all(isinstance(p, str) and p for p in items):
        raise ValueError(f"expected a path or glob, or a list of them, got {value!r}")
    for item in items:
        if not item.startswith("/"):
            raise ValueError(f"expected an absolute path, got {item!r} (the agent's working directory is not yours)")
    return tuple(items)


class BackupConfig(CheckConfig):
    """``type: backup`` — is there a recent, plausible, readable backup for this site?"""

    source: Source | None = None  # inferred from path:/url: when omitted
    # files
    path: Annotated[tuple[str, ...], pydantic.BeforeValidator(_paths)] = ()
    name_time: Annotated[NameTime, pydantic.PlainValidator(_name_time)] | None = None
    min_count: Annotated[int, pydantic.Field(ge=1)] = 1
    min_ratio: Annotated[float, pydantic.Field(gt=0, le=1)] | None = None
    max_total: Size | None = None
    verify: Literal["gzip", "zip", "tar", "sha256"] | None = None
    verify_every: Duration = 0.0
    # url
    url: str | None = None  # absolute, or a path relative to the site's URL
    headers: dict[str, str] = {}
    verify_tls: bool = True
    # every source
    max_age: Duration = 26 * 3600.0
    min_size: Size = 1

    @property
    def kind(self) -> Source:
        """The source in effect (explicit, or inferred from the keys given)."""
        return self.source or ("url" if self.url is not None else "files")

    @pydantic.model_validator(mode="before")
    @classmethod
    def _one_source(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        source = data.get("source")
        if source is None:
            if "path" in data and "url" in data:
                raise ValueError("set path: (files on this server) or url: (a remote object), not both")
            if "path" not in data and "url" not in data:
                raise ValueError("set path: (files on this server) or url: (a remote object)")
            source = "url" if "url" in data else "files"
        if source == "files":
            foreign = [k for k in _URL_KEYS if k in data]
            if "path" not in data:
                raise ValueError("source: files needs path: (a path or glob, or a list of them)")
        elif source == "url":
            foreign = [k for k in _FILE_KEYS if k in data]
            if "url" not in data:
                raise ValueError("source: url needs url:")
        else:
            return data  # the Literal reports the bad value
        if foreign:
            raise ValueError(f"{', '.join(foreign)} cannot be used with source: {source}")
        return data

    @pydantic.field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            parsed = yarl.URL(value)
            if parsed.is_absolute() and parsed.scheme not in ("http", "https"):
                raise ValueError(f"expected an http(s) URL, got {parsed.scheme!r}")
        return value
