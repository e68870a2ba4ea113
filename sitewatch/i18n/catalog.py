"""The messages people read, per language; placeholders are filled by ``str.format``.

One table per language with the same keys (a test holds them equal), so a text added in
English without its Russian twin fails the build instead of showing English to a Russian client.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["LANGUAGES", "Language", "severity_word", "text"]

Language = Literal["en", "ru"]
LANGUAGES: tuple[Language, ...] = ("en", "ru")

_EN: dict[str, str] = {
    # tickets
    "ticket.what": "What failed: {check} check of site {site} ({url})",
    "ticket.what_warning": "What needs attention: {check} check of site {site} ({url})",
    "ticket.finding": "Finding: {summary}",
    "ticket.severity": "Severity: {severity}; priority {priority}",
    "ticket.sla": "SLA for {priority}: respond within {response}, resolve within {resolve}",
    "ticket.since.critical": "Failing since: {since}",
    "ticket.since.error": "Could not be checked since: {since}",
    "ticket.since.warning": "Warning since: {since}",
    "ticket.key": "Incident key: {key}",
    "ticket.agent": "Agent: {agent}",
    "ticket.runbook": "Runbook: {runbook}",
    "ticket.flapping": "Note: this check is flapping (changing state often); one ticket covers the whole period.",
    "ticket.evidence": "Evidence:",
    "ticket.recovered": "Recovered at {at}: {summary}. Downtime {downtime}. Resolved by sitewatch.",
    "ticket.changed": "Severity is now {severity} ({at}): {summary}",
    # severities
    "severity.critical": "critical",
    "severity.error": "could not check",
    "severity.warning": "warning",
    "severity.ok": "ok",
    "severity.pending": "pending",
}

_RU: dict[str, str] = {
    "ticket.what": "Что сломалось: проверка {check} сайта {site} ({url})",
    "ticket.what_warning": "Что требует внимания: проверка {check} сайта {site} ({url})",
    "ticket.finding": "Результат: {summary}",
    "ticket.severity": "Серьёзность: {severity}; приоритет {priority}",
    "ticket.sla": "SLA для {priority}: реакция в течение {response}, решение в течение {resolve}",
    "ticket.since.critical": "Не работает с: {since}",
    "ticket.since.error": "Не удаётся проверить с: {since}",
    "ticket.since.warning": "Предупреждение с: {since}",
    "ticket.key": "Ключ инцидента: {key}",
    "ticket.agent": "Агент: {agent}",
    "ticket.runbook": "Инструкция: {runbook}",
    "ticket.flapping": "Внимание: проверка «мигает» (часто меняет состояние); один тикет на весь период.",
    "ticket.evidence": "Данные проверки:",
    "ticket.recovered": "Восстановлено {at}: {summary}. Простой {downtime}. Тикет закрыт автоматически (sitewatch).",
    "ticket.changed": "Серьёзность изменилась на «{severity}» ({at}): {summary}",
    "severity.critical": "критично",
    "severity.error": "не удаётся проверить",
    "severity.warning": "предупреждение",
    "severity.ok": "в норме",
    "severity.pending": "ожидает проверки",
}

_TABLES: dict[str, dict[str, str]] = {"en": _EN, "ru": _RU}


def text(language: str, message: str, /, **values: Any) -> str:
    """The ``message`` in ``language`` (English if the language is unknown), filled in."""
    return _TABLES.get(language, _EN)[message].format(**values)


def severity_word(severity: str | None, language: str) -> str:
    """``critical`` → ``критично``; an unknown severity is shown as it is."""
    table = _TABLES.get(language, _EN)
    return table.get(f"severity.{severity}", str(severity or ""))


def tables() -> dict[str, dict[str, str]]:
    """Every language's table (for the test that holds their keys equal)."""
    return _TABLES
