"""People read their own language: CLDR plurals and durations, local times with the zone, findings,
and Russian tickets that read as Russian from title to units."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sitewatch.config.loader import ConfigError, load_config
from sitewatch.i18n import duration, finding, local_time
from sitewatch.i18n.catalog import plural_forms, tables
from sitewatch.tickets.evidence import evidence_lines
from sitewatch.tickets.render import body, comment, title
from tests.helpers import failing_site, run_check
from tests.test_tls_check import tcp_server

MOSCOW_0315 = 1_796_602_500.0  # 2026-12-07 00:15 UTC = 03:15 in Moscow


PLURAL_FORMS = {"zero", "one", "two", "few", "many", "other"}


def _messages(table: dict[str, str]) -> set[str]:
    """Message names, with the plural forms of one message counted once."""
    return {key.rsplit(".", 1)[0] if key.rsplit(".", 1)[-1] in PLURAL_FORMS else key for key in table}


def test_every_language_has_every_message() -> None:
    """A message added in one language without its twin fails here, not in a client's ticket; a plural
    message has every form CLDR's rules for that language can choose (Russian: one, few, many, other)."""
    english = tables()["en"]
    for language, table in tables().items():
        assert _messages(table) == _messages(english), language
        plurals = {key.rsplit(".", 1)[0] for key in table if key.rsplit(".", 1)[-1] in PLURAL_FORMS}
        for message in plurals:
            assert {f"{message}.{form}" for form in plural_forms(language)} <= set(table), (language, message)


@pytest.mark.parametrize(
    ("seconds", "ru", "en"),
    [
        (86400, "1 день", "1 day"),
        (2 * 86400, "2 дня", "2 days"),
        (5 * 86400, "5 дней", "5 days"),
        (21 * 3600, "21 час", "21 hours"),
        (230, "3 минуты 50 секунд", "3 minutes, 50 seconds"),
        (86400 + 300, "1 день", "1 day"),  # no "0 hours" between: the two largest units that are there
        (0.25, "250 миллисекунд", "250 milliseconds"),
    ],
)
def test_durations_use_cldr_plurals(seconds: float, ru: str, en: str) -> None:
    """Russian has three plural forms (1 день, 2 дня, 5 дней); Babel's CLDR data supplies them."""
    assert duration(seconds, "ru") == ru
    assert duration(seconds, "en") == en


def test_local_time_names_its_zone() -> None:
    """People read local time with its zone; the default zone is UTC."""
    assert local_time(MOSCOW_0315, "Europe/Moscow", "ru") == "7 дек. 2026 г., 03:15 MSK"
    assert local_time(MOSCOW_0315, "Europe/Moscow", "en") == "Dec 7, 2026, 03:15 MSK"
    assert local_time(MOSCOW_0315) == "Dec 7, 2026, 00:15 UTC"


def test_unknown_finding_shapes_stay_whole() -> None:
    """A summary no rule knows is shown as it is, never cut; English input stays English."""
    odd = "backup /srv/x.tar.gz: 3 files, checksum mismatch"
    assert finding(odd, "ru") == odd
    assert finding("HTTP 500 Internal Server Error (expected 200-399)", "en").endswith("(expected 200-399)")


def test_evidence_is_labelled_lines_in_the_readers_numbers() -> None:
    """Details become `label: value` lines: timings as durations, numbers in the language's format,
    nested keys dotted, control characters from the site removed."""
    details = {
        "status_code": 500,
        "phases": {"connect": 0.0012, "transfer": 1.9e-05},
        "body_bytes": 28060,
        "matched": "Error\x1b[2J\r\nInjected",
        "redirects": ["http://a/", "http://b/"],
    }
    lines = evidence_lines(details, "ru")
    assert "status_code: 500" in lines
    assert "phases.connect: 1,2 мс" in lines
    assert "phases.transfer: 0,019 мс" in lines
    assert "body_bytes: 28\xa0060" in lines  # CLDR's Russian grouping: a no-break space
    assert "matched: Error [2J Injected" in lines
    assert "redirects: http://a/, http://b/" in lines
    assert not any("{" in line for line in lines)


@pytest.fixture
async def broken_site() -> AsyncIterator[str]:
    """A site whose front page answers 500."""
    async with failing_site(500, "Error establishing a database connection") as url:
        yield url


#: Words of the English ticket template that must never appear in a Russian ticket.
ENGLISH = re.compile(r"\b(What|Finding|Severity|since|expected|critical|warning|Downtime|Resolved|Evidence)\b")


async def test_russian_ticket_from_a_real_http_check_reads_as_russian(broken_site: str) -> None:
    """A real http check against a 500: title, body and recovery comment in Russian, local time with its
    zone, Russian plurals, evidence as labelled lines (no raw JSON)."""
    record = await run_check("http", {}, url=f"{broken_site}/")
    payload = {
        "key": "sw:v1:shop:http", "event": "opened", "site": "shop", "check": "http", "url": f"{broken_site}/",
        "severity": "critical", "priority": "P1", "sla": {"response": 900, "resolve": 4 * 3600},
        "language": "ru", "timezone": "Europe/Moscow", "summary": record.result.summary,
        "at": MOSCOW_0315, "opened_at": MOSCOW_0315, "agent": "web1", "details": dict(record.result.details),
    }  # fmt: skip
    assert record.result.summary.startswith("HTTP 500 Internal Server Error (expected")  # the stable English form
    text = f"{title(payload)}\n{body(payload)}"
    assert title(payload).startswith("[sitewatch] shop http КРИТИЧНО: HTTP 500 Internal Server Error (ожидался код")
    assert "Серьёзность: критично; приоритет P1" in text
    assert "SLA для P1: реакция в течение 15 минут, решение в течение 4 часа" in text
    assert "Не работает с: 7 дек. 2026 г., 03:15 MSK" in text
    assert "Данные проверки:" in text
    assert not ENGLISH.search(text), ENGLISH.search(text)
    assert '": ' not in text  # no JSON
    resolved = {**payload, "event": "resolved", "summary": "HTTP 200 OK in 120ms", "at": MOSCOW_0315 + 230}
    assert comment(resolved) == (
        "Восстановлено 7 дек. 2026 г., 03:18 MSK: HTTP 200 OK за 120 миллисекунд. Простой 3 минуты 50 секунд."
        " Тикет закрыт автоматически (sitewatch)."
    )


def test_a_warning_ticket_never_says_the_site_is_down() -> None:
    """A certificate warning: the site works, so the ticket says "needs attention" and "warning since"."""
    payload = {
        "key": "sw:v1:shop:tls", "event": "opened", "site": "shop", "check": "tls", "url": "https://shop/",
        "severity": "warning", "priority": "P3", "language": "ru", "timezone": "Europe/Moscow",
        "summary": "certificate for shop.test expires in 9 days (2026-12-16), TLS 1.3, chain trusted",
        "at": MOSCOW_0315, "opened_at": MOSCOW_0315, "agent": "web1",
    }  # fmt: skip
    text = body(payload)
    assert "Не работает" not in text
    assert "Что сломалось" not in text
    assert "Что требует внимания: проверка tls сайта shop" in text
    assert "Предупреждение с: 7 дек. 2026 г., 03:15 MSK" in text
    assert "сертификат для shop.test истекает через 9 дней (2026-12-16), TLS 1.3, цепочка доверенная" in text
    english = body({**payload, "language": "en", "timezone": "UTC"})
    assert "Warning since: Dec 7, 2026, 00:15 UTC" in english
    assert "Failing" not in english


def test_unknown_time_zone_is_a_located_config_error(tmp_path: Path) -> None:
    """`agent.timezone` must be an IANA zone this machine knows; the error names file, line and key."""
    path = tmp_path / "config.yaml"
    path.write_text(f"agent:\n  state_dir: {tmp_path}\n  timezone: Europe/Moskow\nsites: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "config.yaml:3" in message
    assert "agent.timezone" in message
    assert "unknown time zone 'Europe/Moskow'" in message


async def test_a_real_timeout_and_refusal_translate_whole() -> None:
    """The real http check's timeout (a server that accepts and never answers) and refusal (a closed
    port) summaries are rendered in Russian whole, the stage and the reason included."""
    async with tcp_server() as port:  # accepts, never answers, closes every connection at the end
        record = await run_check("http", {}, url=f"http://127.0.0.1:{port}/", timeout=0.5)
    assert record.result.summary == "timed out after 500ms waiting for the response headers (127.0.0.1)"
    assert finding(record.result.summary, "ru") == "нет ответа за 500 миллисекунд в ожидании ответа (127.0.0.1)"
    refused = await run_check("http", {}, url=f"http://127.0.0.1:{port}/")  # the server is gone now
    translated = finding(refused.result.summary, "ru")
    assert translated.startswith(f"не удаётся подключиться к 127.0.0.1:{port}: ")
    assert "Connection refused" not in translated
