"""Ticket texts, priorities and SLA targets, in English and Russian."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sitewatch.config.loader import load_config
from sitewatch.engine.results import RunRecord
from sitewatch.incidents.priority import priority_for
from sitewatch.incidents.tracker import IncidentTracker
from sitewatch.probe import Result, Status
from sitewatch.store.database import Store
from sitewatch.tickets.render import body, comment

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"


def test_priority_matrix() -> None:
    """Severity and the site's importance pick the priority."""
    assert priority_for("critical", "high") == "P1"
    assert priority_for("critical", "normal") == "P2"
    assert priority_for("warning", "normal") == "P3"
    assert priority_for("warning", "low") == "P4"


def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
agent: {{state_dir: {tmp_path}}}
defaults: {{fail_after: 1}}
tickets:
  language: ru
  sla:
    P1: {{response: 15m, resolve: 4h}}
sites:
  - name: shop
    url: https://shop.example.com/?utm=secret
    importance: high
    checks:
      - type: http
      - type: cms
        priority: P4
""",
        encoding="utf-8",
    )
    return path


def test_ticket_text_in_russian_with_sla(tmp_path: Path) -> None:
    """A critical failure of an important site is P1, its SLA is stated, the text is Russian, no query string."""
    cfg = load_config(config(tmp_path))
    http, cms = cfg.checks
    tracker = IncidentTracker(Store(tmp_path / "s.db"), ["local"], logging.getLogger("t"), lambda *_: None, cfg.tickets)
    result = Result(Status.CRITICAL, "HTTP 503 Service Unavailable (expected 200-399)")
    (event,) = tracker.observe(http, RunRecord("shop", "http", "http", result, 1_800_000_000.0, 0.1))
    payload = tracker._payload(http, "sw:v1:shop:http", event, RunRecord("shop", "http", "http", result, 0, 0))
    text = body(payload)
    assert payload["priority"] == "P1"
    assert "SLA для P1: реакция в течение 15 минут, решение в течение 4 часа" in text
    assert "Что сломалось: проверка http сайта shop (https://shop.example.com/)" in text
    assert "secret" not in text
    assert cms.priority == "P4"
    resolved = {**payload, "event": "resolved", "at": payload["opened_at"] + 600}
    assert comment(resolved).startswith("Восстановлено ")
    assert "Простой 10 минут" in comment(resolved)


def test_runbook_and_template_override() -> None:
    """A runbook link appears in the built-in text; a sink's template replaces it, placeholders filled."""
    payload = {
        "key": "sw:v1:shop:http", "event": "opened", "site": "shop", "check": "http", "url": "https://shop/",
        "severity": "critical", "priority": "P2", "summary": "HTTP 503", "at": 1_800_000_600.0,
        "opened_at": 1_800_000_000.0, "agent": "web1", "runbook": "https://wiki/runbooks/shop",
    }  # fmt: skip
    assert "Runbook: https://wiki/runbooks/shop" in body(payload)
    custom = {**payload, "templates": {"body": "$site down since $since ($priority): $summary. $runbook $unknown"}}
    assert body(custom) == "shop down since Jan 15, 2027, 08:00 UTC (P2): HTTP 503. https://wiki/runbooks/shop $unknown"
    resolved = {**custom, "event": "resolved", "templates": {"comment": "back after $downtime"}}
    assert comment(resolved) == "back after 10 minutes"


async def test_every_sink_in_the_example_config_builds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each sink type of config.example.yaml turns into its sink object (config fields = constructor keywords)."""
    import aiohttp

    from sitewatch.tickets.factory import build_sinks

    for name in ("SHOP_BASIC_AUTH_PASSWORD", "STATUS_API_TOKEN", "SHOP_BACKUP_TOKEN", "WEBHOOK_SECRET",
                 "REDMINE_API_KEY", "SMTP_PASSWORD", "JIRA_API_TOKEN", "RT_TOKEN", "TELEGRAM_BOT_TOKEN",
                 "WORDFENCE_API_KEY"):  # fmt: skip
        monkeypatch.setenv(name, "example")
    monkeypatch.setenv("SHOP_BACKUP_PING_TOKEN", "0123456789abcdef0123")
    cfg = load_config(EXAMPLE)
    async with aiohttp.ClientSession() as session:
        sinks = build_sinks(cfg.tickets, Store(tmp_path / "s.db"), session)
    kinds = {name: type(sink).__name__ for name, sink in sinks.items()}
    assert kinds == {
        "local": "LocalSink", "webhook": "WebhookSink", "redmine": "RedmineSink",
        "jira": "JiraSink", "rt": "RtSink", "email": "EmailSink",
    }  # fmt: skip


def test_site_text_in_a_summary_is_made_printable_and_bounded() -> None:
    """A summary quoting the probed site (escapes, newlines, 100 KB) reaches tickets as one bounded line."""
    from sitewatch.tickets.render import title

    hostile = "page contains 'x'\x1b[31m\r\nInjected: header\x00" + "A" * 100_000
    payload = {
        "site": "shop",
        "check": "http",
        "severity": "critical",
        "priority": "P2",
        "summary": hostile,
        "key": "sw:v1:shop:http",
        "at": 2000.0,
        "opened_at": 1000.0,
        "event": "resolved",
        "details": {"matched": "\x07bell" + "B" * 10_000},
    }
    texts = [title(payload), body(payload), comment(payload)]
    for text in texts:
        assert "\x1b" not in text
        assert "\x00" not in text
        assert "\r" not in text
        assert "\x07" not in text
        assert len(text) < 6_000
    assert "Injected: header" in texts[1]  # kept, but on the finding's own line
    assert "\nInjected" not in texts[1]
