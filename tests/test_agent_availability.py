"""sitewatch_availability_ratio through a real agent: seeded history in, a scraped gauge out, promtool happy."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import textwrap
import time
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sitewatch.agent import Agent
from sitewatch.config.loader import load_config
from sitewatch.store.database import Store
from tests.helpers import free_port, need, wait_for
from tests.test_agent_metrics import scrape, target

__all__ = ["target"]  # the loopback site fixture, shared with the agent tests

DAY = 86400.0


def ratios(text: str) -> dict[tuple[str, str], float]:
    """(site, window) → value of every sitewatch_availability_ratio sample."""
    return {
        (s.labels["site"], s.labels["window"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "sitewatch_availability_ratio"
    }


async def test_availability_ratio_from_seeded_history(tmp_path: Path, target: str) -> None:
    """30 days of minute samples with one 1-hour outage 10 days ago: the gauge says 1 - 1h/30d, for that site only."""
    now = time.time()
    rows = []
    at = now - 31 * DAY
    while at < now - 30:
        outage = now - 10 * DAY <= at < now - 10 * DAY + 3600
        rows.append(("good", "http", at, "critical" if outage else "ok", 0.1))
        at += 60
    seeded = Store(tmp_path / "sitewatch.db")
    seeded.append_history(rows)
    seeded.close()
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent:
          listen: 127.0.0.1:{free_port()}
          state_dir: {tmp_path}
        defaults:
          interval: 60s
          timeout: 10s
        sites:
          - name: good
            url: {target}/
          - name: fresh
            url: {target}/
        """),
        encoding="utf-8",
    )
    agent = Agent(load_config(path), logging.getLogger("sitewatch.test"))
    await agent.start()
    try:
        text = ""

        async def reported() -> bool:
            nonlocal text
            text = await scrape(agent)
            return ("good", "30d") in ratios(text)

        await wait_for(reported, timeout=20, what="sitewatch_availability_ratio in /metrics")
        got = ratios(text)
        # The seeded samples end 30-90 s before the start; the agent's own first run may
        # come later than their 70 s reach, so a little no-data time at the end is allowed.
        assert abs(got[("good", "30d")] - (1 - 3600 / (30 * DAY))) < 1e-5
        assert ("fresh", "30d") not in got  # nothing observed yet: no sample rather than 0 or 1
        promtool = need("promtool")
        proc = await asyncio.create_subprocess_exec(
            promtool, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=STDOUT
        )
        output, _ = await proc.communicate(text.encode())
        assert proc.returncode == 0, output.decode()
    finally:
        await agent.close()


async def test_a_failing_refresh_is_logged_once_and_the_agent_keeps_serving(
    tmp_path: Path, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken store (or a bug) in the refresh is one error line; /metrics still answers, without the gauge."""
    path = tmp_path / "config.yaml"
    path.write_text(
        f"agent:\n  listen: 127.0.0.1:{free_port()}\n  state_dir: {tmp_path}\n"
        f"sites:\n  - name: good\n    url: {target}/\n",
        encoding="utf-8",
    )
    agent = Agent(load_config(path), logging.getLogger("sitewatch.test"))

    async def broken(*_: object) -> None:
        raise sqlite3.DatabaseError("file is not a database")

    agent.availability.refresh_in_batches = broken  # type: ignore[method-assign]
    caplog.set_level(logging.ERROR, logger="sitewatch.test")
    await agent.start()
    try:
        await wait_for(
            lambda: any(r.getMessage() == "availability_refresh_failed" for r in caplog.records),
            what="the refresh failure in the log",
        )
        assert not ratios(await scrape(agent))
    finally:
        await agent.close()
