"""One unreadable file never aborts cms detection: judged with what could be read, the rest named.

Permission is denied for real: the tree lives in a directory anyone may traverse, the
locked file is mode 600 owned by root, and the check runs with the effective uid of
``nobody`` (root ignores modes, so tests running as root drop to it with seteuid).
"""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401 - imported before dropping privileges (the interpreter is root's)
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from sitewatch.config.registry import load_checks
from sitewatch.probe import Status
from tests.cms_pages import wordpress_front_page
from tests.helpers import run_check, send_in_pieces, serve
from tests.test_backup_check import as_user
from tests.test_cms_local import wordpress_classic, write

load_checks()  # every check module imported while still root: nobody may not read the interpreter's files
NO_SOURCES = {"wordpress_latest": None, "wordpress_insecure": None, "magento_latest": None}


@pytest.fixture
def docroot() -> Iterator[Path]:
    """A WordPress 6.4.2 docroot in a directory anyone may traverse (pytest's own tmp is root-only)."""
    top = Path(tempfile.mkdtemp(prefix="sitewatch-cms-"))
    try:
        top.chmod(0o755)
        yield wordpress_classic(top / "www", "6.4.2", multisite=True)
    finally:
        shutil.rmtree(top)


def lock(path: Path) -> None:
    """Mode 600, as hardening guides recommend for wp-config.php: only the owner (root here) may read."""
    path.chmod(0o600)


async def test_hardened_wp_config_is_named_and_detection_goes_on(docroot: Path) -> None:
    """wp-config.php at 600: WordPress 6.4.2 is still found, multisite is unknown, and the summary says why."""
    lock(docroot / "wp-config.php")
    with as_user("nobody"):
        record = await run_check("cms", {"root": str(docroot), "remote": False, "sources": NO_SOURCES})
    result = record.result
    assert result.status is Status.OK, result.summary
    assert result.summary == "WordPress 6.4.2; could not read wp-config.php (permission denied)"
    assert result.details["unreadable"] == {str(docroot / "wp-config.php"): "permission denied"}
    assert result.details["local"]["multisite"] is None
    assert result.details["local"]["plugins"] == {"akismet": "5.3"}


async def test_one_unreadable_plugin_is_left_out_not_fatal(docroot: Path) -> None:
    """One plugin file the agent may not read: the others are listed, that one is named."""
    header = "<?php\n/*\nPlugin Name: Secret Plugin\nVersion: 1.2\n*/\n"
    secret = write(docroot / "wp-content" / "plugins" / "secret" / "secret.php", header)
    lock(secret)
    with as_user("nobody"):
        record = await run_check("cms", {"root": str(docroot), "remote": False, "sources": NO_SOURCES})
    result = record.result
    assert result.status is Status.OK
    assert result.details["local"]["plugins"] == {"akismet": "5.3"}
    assert result.details["local"]["multisite"] is True
    assert result.details["unreadable"] == {str(secret): "permission denied"}
    assert result.summary.endswith("; could not read wp-content/plugins/secret/secret.php (permission denied)")


async def test_unreadable_core_file_is_could_not_read_never_no_install_found(docroot: Path) -> None:
    """version.php itself unreadable: an error without remote; with remote, judged on the site, never "no install"."""
    lock(docroot / "wp-includes" / "version.php")

    async def home(request: web.Request) -> web.StreamResponse:
        return await send_in_pieces(request, wordpress_front_page(f"http://{request.host}", "6.4.2"))

    app = web.Application()
    app.router.add_get("/", home)
    async with serve(app) as base:
        with as_user("nobody"):
            alone = await run_check("cms", {"root": str(docroot), "remote": False, "sources": NO_SOURCES})
            both = await run_check("cms", {"root": str(docroot), "sources": NO_SOURCES}, url=base + "/")
    assert alone.result.status is Status.ERROR
    assert alone.result.summary == "cannot read the install: wp-includes/version.php (permission denied)"
    assert both.result.details.get("version") == "6.4.2", (both.result.summary, both.result.details)
    assert both.result.details["source"] == "remote"
    assert "no install found" not in both.result.summary
    assert both.result.summary.endswith(
        f"; could not read the install under {docroot} (wp-includes/version.php (permission denied))"
    )
