"""url: of the backup check against real loopback HTTP servers serving a real file."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from sitewatch.probe import Status
from tests.helpers import run_check, serve
from tests.test_backup_check import put, sample

SIZE = 123_456


def object_store(path: Path, *, head: bool = True, token: str | None = None) -> tuple[web.Application, list[str]]:
    """Serves ``path`` at /backups/shop.tar.gz with Last-Modified, Content-Length and Range support.

    ``head=False`` answers HEAD with 405 like some object stores; ``token`` requires a bearer token.
    Returns the app and a log of "METHOD range" lines.
    """
    seen: list[str] = []

    async def get(request: web.Request) -> web.StreamResponse:
        seen.append(f"{request.method} {request.headers.get('Range', '-')}")
        if token is not None and request.headers.get("Authorization") != f"Bearer {token}":
            raise web.HTTPForbidden()
        return web.FileResponse(path)

    async def refuse(request: web.Request) -> web.StreamResponse:
        seen.append(f"{request.method} -")
        raise web.HTTPMethodNotAllowed(request.method, ["GET"])

    app = web.Application()
    if head:
        app.router.add_get("/backups/shop.tar.gz", get)
    else:
        app.router.add_route("HEAD", "/backups/shop.tar.gz", refuse)
        app.router.add_get("/backups/shop.tar.gz", get, allow_head=False)
    return app, seen


async def test_fresh_remote_backup_is_ok_from_head(tmp_path: Path) -> None:
    """HEAD gives age (Last-Modified) and size (Content-Length); a URL relative to the site works."""
    backup = put(tmp_path, "shop.tar.gz", SIZE, age_h=3)
    app, seen = object_store(backup)
    async with serve(app) as base:
        record = await run_check("backup", {"url": "/backups/shop.tar.gz"}, url=base + "/")
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.summary == "newest backup shop.tar.gz is 3 h old, 120.6 KiB"
    assert seen == ["HEAD -"]
    assert sample(record, "size_bytes") == SIZE
    # Last-Modified has whole seconds (aiohttp rounds up).
    assert sample(record, "last_success_timestamp_seconds") == pytest.approx(backup.stat().st_mtime, abs=1)
    assert record.result.details["url"] == f"{base}/backups/shop.tar.gz"


async def test_stale_remote_backup_is_critical(tmp_path: Path) -> None:
    """An object whose Last-Modified is older than max_age is critical, like a stale local file."""
    app, _ = object_store(put(tmp_path, "shop.tar.gz", SIZE, age_h=49.3))
    async with serve(app) as base:
        record = await run_check("backup", {"url": f"{base}/backups/shop.tar.gz", "max_age": "26h"})
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "newest backup shop.tar.gz is 49 h old (max 26 h)"


async def test_head_refused_falls_back_to_a_one_byte_ranged_get(tmp_path: Path) -> None:
    """A server answering HEAD with 405 is asked for byte 0 only; the size comes from Content-Range."""
    app, seen = object_store(put(tmp_path, "shop.tar.gz", SIZE, age_h=1), head=False)
    async with serve(app) as base:
        record = await run_check("backup", {"url": f"{base}/backups/shop.tar.gz", "min_size": "1MB"})
    assert seen == ["HEAD -", "GET bytes=0-0"]
    assert record.result.details["method"] == "GET (range)"
    assert sample(record, "size_bytes") == SIZE
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "newest backup shop.tar.gz is 120.6 KiB (min 976.6 KiB)"


async def test_auth_headers_are_sent_and_a_refusal_is_an_error(tmp_path: Path) -> None:
    """headers: carry the credentials; without them the 403 is an error (could not look), not a bad backup."""
    app, _ = object_store(put(tmp_path, "shop.tar.gz", SIZE), token="s3cret")
    async with serve(app) as base:
        url = f"{base}/backups/shop.tar.gz"
        good = await run_check("backup", {"url": url, "headers": {"Authorization": "Bearer s3cret"}})
        denied = await run_check("backup", {"url": url})
    assert good.result.status is Status.OK, good.result.summary
    assert denied.result.status is Status.ERROR
    assert denied.result.summary == f"access to {url} denied (HTTP 403); check the check's headers: credentials"


async def test_missing_object_is_critical_and_a_dead_server_an_error(tmp_path: Path) -> None:
    """404 means the backup is not there (critical); a refused connection means we could not look (error)."""
    app, _ = object_store(put(tmp_path, "shop.tar.gz", SIZE))
    async with serve(app) as base:
        missing = await run_check("backup", {"url": f"{base}/backups/other.tar.gz"})
    assert missing.result.status is Status.CRITICAL
    assert missing.result.summary == f"backup {base}/backups/other.tar.gz does not exist (HTTP 404)"
    # The server is gone now: its port refuses connections.
    dead = await run_check("backup", {"url": f"{base}/backups/shop.tar.gz"})
    assert dead.result.status is Status.ERROR
    assert dead.result.summary.startswith(f"cannot connect to {base.removeprefix('http://')}")


async def test_no_last_modified_is_an_error(tmp_path: Path) -> None:
    """Without Last-Modified the age cannot be known: an error that says so, not a guess."""

    async def bare(_: web.Request) -> web.Response:
        return web.Response(body=b"x" * 10)

    app = web.Application()
    app.router.add_get("/b.tar.gz", bare)
    async with serve(app) as base:
        record = await run_check("backup", {"url": f"{base}/b.tar.gz"})
    assert record.result.status is Status.ERROR
    assert record.result.summary == f"{base}/b.tar.gz sent no Last-Modified header, so its age is unknown"
