"""The on-disk side of the vulnerability snapshots: bounded reads, gunzip, atomic cache files.

Per source: ``<name>-<sha256[:16]>.data`` (the verified bytes) and ``<name>.json`` (which data
file, its sha256, when). The data file is written first under a temporary name and renamed; the
``.json`` rename is the commit point, so a crash at any moment leaves the old snapshot or the new.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zlib
from pathlib import Path
from typing import Any

import aiohttp

from sitewatch.advisories import Snapshot
from sitewatch.files import read_regular
from sitewatch.probe import format_size

__all__ = ["FetchError", "atomic_write", "cached", "gunzip", "read_capped", "store", "touch"]

_CHUNK = 256 * 1024


class FetchError(Exception):
    """A refresh failed; the text is safe for logs and check results (no URL query, no token)."""


def store(cache_dir: Path, name: str, data: bytes, snapshot: Snapshot) -> None:
    """Make ``data`` the cached copy of ``name`` (blocking; the old copy stays until the index is renamed)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{name}-{snapshot.sha256[:16]}.data"
    atomic_write(target, data)
    meta = {"data": target.name, "sha256": snapshot.sha256, "fetched": snapshot.fetched, "format": snapshot.format}
    atomic_write(cache_dir / f"{name}.json", json.dumps(meta).encode())
    for old in cache_dir.glob(f"{name}-*.data"):
        if old != target:
            with contextlib.suppress(OSError):
                old.unlink()


def touch(cache_dir: Path, name: str, fetched: float) -> None:
    """Record that the cached copy was confirmed current at ``fetched`` (an HTTP 304); best effort."""
    path = cache_dir / f"{name}.json"
    with contextlib.suppress(OSError, ValueError):
        meta = json.loads(path.read_bytes())
        meta["fetched"] = fetched
        atomic_write(path, json.dumps(meta).encode())


def cached(cache_dir: Path, name: str, fmt: str, max_size: int) -> tuple[bytes, float] | None:
    """The cached bytes of ``name`` and when they were fetched; None if none; ValueError if they do not verify."""
    raw = read_regular(cache_dir / f"{name}.json", 64 * 1024)
    if raw is None:
        return None
    meta: Any = json.loads(raw)
    if not isinstance(meta, dict) or meta.get("format") != fmt or "/" in str(meta.get("data", "/")):
        raise ValueError("cache index is not this source's")
    data = read_regular(cache_dir / str(meta["data"]), max_size + 1)
    if data is None or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise ValueError("cached data is missing or does not match its sha256")
    return data, float(meta["fetched"])


async def read_capped(stream: aiohttp.StreamReader, cap: int) -> bytes:
    """The whole body, or FetchError as soon as it passes ``cap`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > cap:
            raise FetchError(f"answer is over max_size {format_size(cap)}")
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip(data: bytes, cap: int) -> bytes:
    """A ``.json.gz`` served as a file (not as Content-Encoding) is unpacked, never past ``cap``."""
    if data[:2] != b"\x1f\x8b":
        return data
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error as exc:
        raise FetchError(f"corrupt gzip data ({exc})") from None
    if len(out) > cap or inflater.unconsumed_tail:
        raise FetchError(f"unpacked data is over max_size {format_size(cap)}")
    if not inflater.eof:
        raise FetchError("gzip data ends early (truncated)")
    return out


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, and rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
