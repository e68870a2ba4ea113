"""Python warnings become one log event in the chosen format, never raw lines on stderr."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import ssl
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from sitewatch.logs import setup_logging
from tests.helpers import serve


@pytest.fixture
def restore_showwarning() -> object:
    """setup_logging replaces warnings.showwarning and the logger's handlers: put both back."""
    saved = warnings.showwarning
    yield saved
    warnings.showwarning = saved
    logging.getLogger("sitewatch").handlers.clear()


def test_a_warning_is_one_json_event(restore_showwarning: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warning raised after setup is one JSON object with its category, message and place."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging("json")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = warnings.showwarning  # catch_warnings saved ours; keep using it
        warnings.warn("DSA is deprecated", UserWarning, stacklevel=1)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    record = json.loads(lines[0])
    assert record["event"] == "python_warning"
    assert record["level"] == "warning"
    assert record["category"] == "UserWarning"
    assert record["message"] == "DSA is deprecated"
    assert record["where"].startswith(__file__)


def test_a_warning_is_one_key_value_line(restore_showwarning: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the text format the warning is one line whose message is quoted, not a two-line dump."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    setup_logging("text")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("line one\nline two", DeprecationWarning, stacklevel=1)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert ' warning python_warning category=DeprecationWarning message="line one\\nline two" ' in lines[0]


async def test_probe_of_a_tls_site_writes_only_json_to_stderr(tmp_path: Path) -> None:
    """`sitewatch probe --log-format json` on a tls check, with every warning shown (-W always):
    each stderr line parses as JSON."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)

    async def page(_: web.Request) -> web.Response:
        return web.Response(text="shop")

    app = web.Application()
    app.router.add_get("/", page)
    async with serve(app, ssl_context=context) as url:
        config = tmp_path / "config.yaml"
        config.write_text(
            textwrap.dedent(f"""\
            sites:
              - name: shop
                url: {url}/
                checks:
                  - type: tls
            """)
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-W", "always", "-m", "sitewatch.cli", "--log-format", "json", "--log-level", "debug",
            "probe", "-c", str(config),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert "shop" in out.decode()  # the probe ran: the untrusted test CA makes it fail
    for line in err.decode().splitlines():
        json.loads(line)
