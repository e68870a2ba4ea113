"""The whole path in a running agent: feed refreshed in the background, one ticket per site, page and metrics."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from sitewatch.agent import Agent
from tests.advisory_feeds import CF7_ID, cf7, wordfence_record
from tests.helpers import free_port, running_agent, send_in_pieces, serve, wait_for
from tests.test_cms_local import bitrix_tree
from tests.test_cms_vulns import wp_site


@pytest.fixture
async def feed_url() -> AsyncIterator[str]:
    """A Wordfence feed with CF7 and a second vulnerable plugin, gzip'd in many pieces."""
    gallery = wordfence_record(
        "gal-1", "hello-dolly", "Hello Dolly <= 1.7.2 - XSS", to_version="1.7.2", patched=("1.7.3",), cve=None
    )
    gallery["cvss"] = {"vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", "score": 6.1, "rating": "Medium"}
    body = json.dumps({CF7_ID: cf7(), "gal-1": gallery}).encode()

    async def handle(request: web.Request) -> web.StreamResponse:
        return await send_in_pieces(request, body, content_type="application/json", pieces=64)

    app = web.Application()
    app.router.add_get("/production", handle)
    async with serve(app) as base:
        yield f"{base}/production"


@pytest.fixture
async def agent(tmp_path: Path, feed_url: str) -> AsyncIterator[Agent]:
    """An agent watching a WordPress blog (two vulnerable plugins) and a Bitrix shop (old vote module)."""
    blog = wp_site(tmp_path / "blog")
    shop = bitrix_tree(tmp_path / "shop", modules={"vote": ("array", "21.0.99")})
    path = tmp_path / "config.yaml"
    off = "{wordpress_latest: null, wordpress_insecure: null}"
    path.write_text(
        textwrap.dedent(f"""\
        agent: {{listen: "127.0.0.1:{free_port()}", state_dir: {tmp_path}}}
        vulnerabilities:
          sources:
            wordfence: {{format: wordfence, url: "{feed_url}"}}
        sites:
          - name: blog
            url: http://127.0.0.1:9/
            checks:
              - {{type: cms, interval: 500ms, timeout: 500ms, root: {blog}, remote: false, sources: {off}}}
          - name: shop
            url: http://127.0.0.1:9/
            checks:
              - {{type: cms, interval: 500ms, timeout: 500ms, root: {shop}, remote: false}}
        """),
        encoding="utf-8",
    )
    async with running_agent(path) as running:
        yield running


def tickets(state_dir: Path) -> list[sqlite3.Row]:
    """The local sink's tickets."""
    db = sqlite3.connect(state_dir / "sitewatch.db")
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT key, title, body, priority FROM tickets ORDER BY key").fetchall()
    finally:
        db.close()


def tickets_text(state_dir: Path, key: str) -> str:
    """The body and every comment of the ticket for ``key``."""
    db = sqlite3.connect(state_dir / "sitewatch.db")
    try:
        (ref, body) = db.execute("SELECT id, body FROM tickets WHERE key = ?", (key,)).fetchone()
        comments = [c for (c,) in db.execute("SELECT body FROM ticket_comments WHERE ticket_id = ?", (ref,))]
    finally:
        db.close()
    return "\n".join([body, *comments])


async def test_one_ticket_per_site_listing_what_to_update(agent: Agent, tmp_path: Path) -> None:
    """Each site gets one ticket naming every vulnerable component; exploited is P1; page and metrics list them."""

    def summary(site: str) -> str:
        record = agent.book.latest.get((site, "cms"))
        return record.result.summary if record else ""

    await wait_for(lambda: "2 of 5 plugins and themes vulnerable" in summary("blog"), what="blog judged")
    await wait_for(lambda: "vote 21.0.99: CVE-2022-27228" in summary("shop"), what="shop judged")
    await wait_for(lambda: len(tickets(tmp_path)) == 2, what="two tickets")
    for _ in range(3):  # more runs, still one ticket per site
        runs = agent.book.latest[("blog", "cms")].started
        await wait_for(lambda r=runs: agent.book.latest[("blog", "cms")].started > r, what="another run")
    rows = {r["key"]: r for r in tickets(tmp_path)}
    assert sorted(rows) == ["sw:v1:blog:cms", "sw:v1:shop:cms"]
    assert rows["sw:v1:shop:cms"]["priority"] == "P1"  # CVE-2022-27228 is exploited in the wild
    assert (
        "update.vote: 21.0.99: CVE-2022-27228 (CVSS 9.8, exploited), fixed in 21.0.100"
        in rows["sw:v1:shop:cms"]["body"]
    )
    texts = tickets_text(tmp_path, "sw:v1:blog:cms")  # the ticket, or its worsening comment once the feed came
    assert "update.contact-form-7: 5.3.1: CVE-2020-35489 (CVSS 10.0), fixed in 5.3.2" in texts
    assert "update.hello-dolly: 1.7.2: Hello Dolly" not in texts  # an id-only advisory reads by its id
    assert "update.hello-dolly: 1.7.2: gal-1 (CVSS 6.1), fixed in 1.7.3" in texts
    base = f"http://{agent.web.bound[0]}"
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{base}/") as page:
            html = await page.text()
        async with client.get(f"{base}/metrics") as resp:
            metrics = await resp.text()
    assert "contact-form-7 5.3.1: CVE-2020-35489 (CVSS 10.0), fixed in 5.3.2" in html
    assert 'sitewatch_cms_vulnerable_components{check="cms",site="blog"} 2.0' in metrics
    assert 'component="contact-form-7"' in metrics
    assert 'component="akismet"' not in metrics  # current components get no series
    assert 'sitewatch_vulnerability_source_failing{source="wordfence"} 0.0' in metrics
    assert 'sitewatch_vulnerability_snapshot_age_seconds{source="wordfence"}' in metrics
