"""The messages people read, per language; placeholders are filled by ``str.format``.

One table per language with the same keys (a test holds them equal), so a text added in
English without its Russian twin fails the build instead of showing English to a Russian client.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from babel.core import Locale

from sitewatch.i18n.report_texts import REPORT_EN, REPORT_RU

__all__ = ["LANGUAGES", "Language", "plural", "severity_word", "text"]

Language = Literal["en", "ru"]
LANGUAGES: tuple[Language, ...] = ("en", "ru")

_EN: dict[str, str] = {
    # tickets
    "ticket.what": "What failed: {check} check of site {site} ({url})",
    "ticket.what_warning": "What needs attention: {check} check of site {site} ({url})",
    "ticket.finding": "Finding: {summary}",
    "ticket.severity": "Severity: {severity}; priority {priority}",
    "ticket.sla": "SLA for {priority}: respond within {response}, resolve within {resolve}",
    "ticket.deadlines": "Respond by {respond_by}; resolve by {resolve_by}",
    "ticket.priority_changed": "Priority {previous} → {priority}: respond by {respond_by}; resolve by {resolve_by}",
    "ticket.paused": "paused (waiting for the client)",
    "ticket.since.critical": "Failing since: {since}",
    "ticket.since.error": "Could not be checked since: {since}",
    "ticket.since.warning": "Warning since: {since}",
    "ticket.key": "Incident key: {key}",
    "ticket.agent": "Agent: {agent}",
    "ticket.runbook": "Runbook: {runbook}",
    "ticket.flapping": "Note: this check is flapping (changing state often); one ticket covers the whole period.",
    "ticket.affected": "Failing with it, no tickets of their own (they depend on it), {count}: {names}",
    "ticket.evidence": "Evidence:",
    "word.yes": "yes",
    "word.no": "no",
    "ticket.recovered": "Recovered at {at}: {summary}. Downtime {downtime}. Resolved by sitewatch.",
    "ticket.changed": "Severity is now {severity} ({at}): {summary}",
    "ticket.escalated": "Escalation {level} at {at}: notified {targets}.",
    "ticket.escalated_late": "Escalation {level} at {at}, sent late (due {due}, while the agent was not running):"
    " notified {targets}.",
    # on-call messages (Telegram, e-mail, webhook) and the Acknowledge button
    "oncall.title": "{priority} {site} {check}: {summary}",
    "oncall.level": "Escalation: {level}; open since {since}",
    "oncall.repeat": "Reminder {count}: not acknowledged yet",
    "oncall.respond_by": "Respond by {at}",
    "oncall.late": "Sent late: this step came due at {due}, while the agent was not running.",
    "oncall.button": "Acknowledge",
    "oncall.acked": "Acknowledged by {by} at {at}",
    "oncall.resolved": "Resolved after {took} ({at})",
    "oncall.refused": "You are not allowed to acknowledge incidents in this chat.",
    "oncall.ack_recorded": "Acknowledged: the escalation is stopped.",
    "oncall.ack_already": "Already acknowledged by {by}.",
    "oncall.ack_closed": "This incident is already resolved.",
    # severities
    "severity.critical": "critical",
    "severity.error": "could not check",
    "severity.warning": "warning",
    "severity.ok": "ok",
    "severity.pending": "pending",
    # the status page
    "page.title": "sitewatch: {failing} failing, {sites}",
    "page.heading": "sitewatch status",
    "page.sites.one": "{count} site",
    "page.sites.other": "{count} sites",
    "page.reloads": "reloads every {seconds}",
    "page.history": "history",
    "page.spark_title": "response time, last 24 h: {low} to {high}, last {last}",
    "page.spark": "response time 24 h: {low}–{high}, last {last}",
    "page.no_spark": "no response times in the last 24 h",
    "page.col.check": "check",
    "page.col.summary": "summary",
    "page.col.last_run": "last run",
    "page.col.took": "took",
    "page.no_sites": "No sites configured.",
    "page.open_incidents": "Open incidents ({count})",
    "page.col.site_check": "site / check",
    "page.col.severity": "severity",
    "page.col.opened": "opened",
    "page.col.resolved": "resolved",
    "page.col.tickets": "tickets",
    "page.col.deadlines": "respond by / resolve by",
    "sla.running": "running",
    "sla.paused": "paused",
    "sla.met": "met",
    "sla.breached": "breached",
    "page.flapping": "flapping",
    "page.pending_deliveries": "{count} pending",
    "page.no_sinks": "no sinks",
    "page.none": "None.",
    "page.silenced": "Silenced ({count})",
    "page.maintenance": "In maintenance ({count})",
    "page.col.site": "site",
    "page.col.until": "until",
    "page.col.by": "by",
    "page.col.reason": "reason",
    "page.recently_resolved": "Recently resolved",
    "page.deliveries": "Ticket deliveries",
    "page.oldest": "oldest {age}",
    "page.dead_letters.one": "{count} dead letter",
    "page.dead_letters.other": "{count} dead letters",
    "page.col.incident": "incident",
    "page.col.sink": "sink",
    "page.col.action": "action",
    "page.col.created": "created",
    "page.col.error": "error",
    "page.never": "never",
    "page.ago": "{time} ago",
    "page.no_data": "no data",
    "page.network.offline": "The agent cannot reach the network since {since}: every reference target fails.",
    "page.network.recovering": "The agent reaches the network again since {since}; its incident resolves shortly.",
    "page.network.unconfirmed": "Site failures meanwhile are held as unconfirmed, no tickets of their own: {count}.",
    "page.network.ok": "Network: {ok} of {count} reference targets answer.",
    "page.network.unknown": "Network: reference targets not checked yet.",
}

_RU: dict[str, str] = {
    "ticket.what": "Что сломалось: проверка {check} сайта {site} ({url})",
    "ticket.what_warning": "Что требует внимания: проверка {check} сайта {site} ({url})",
    "ticket.finding": "Результат: {summary}",
    "ticket.severity": "Серьёзность: {severity}; приоритет {priority}",
    "ticket.sla": "SLA для {priority}: реакция в течение {response}, решение в течение {resolve}",
    "ticket.deadlines": "Реакция до {respond_by}; решение до {resolve_by}",
    "ticket.priority_changed": "Приоритет {previous} → {priority}: реакция до {respond_by}; решение до {resolve_by}",
    "ticket.paused": "на паузе (ждём ответа клиента)",
    "ticket.since.critical": "Не работает с: {since}",
    "ticket.since.error": "Не удаётся проверить с: {since}",
    "ticket.since.warning": "Предупреждение с: {since}",
    "ticket.key": "Ключ инцидента: {key}",
    "ticket.agent": "Агент: {agent}",
    "ticket.runbook": "Инструкция: {runbook}",
    "ticket.flapping": "Внимание: проверка «мигает» (часто меняет состояние); один тикет на весь период.",
    "ticket.affected": "Вместе с ней не работают (зависят от неё, без своих тикетов), {count}: {names}",
    "ticket.evidence": "Данные проверки:",
    "word.yes": "да",
    "word.no": "нет",
    "ticket.recovered": "Восстановлено {at}: {summary}. Простой {downtime}. Тикет закрыт автоматически (sitewatch).",
    "ticket.changed": "Серьёзность изменилась на «{severity}» ({at}): {summary}",
    "ticket.escalated": "Эскалация {level} в {at}: оповещены {targets}.",
    "ticket.escalated_late": "Эскалация {level} в {at}, с опозданием (срок был {due}, агент не работал):"
    " оповещены {targets}.",
    "oncall.title": "{priority} {site} {check}: {summary}",
    "oncall.level": "Эскалация: {level}; открыт с {since}",
    "oncall.repeat": "Напоминание {count}: никто ещё не принял",
    "oncall.respond_by": "Реакция до {at}",
    "oncall.late": "Отправлено с опозданием: срок шага был {due}, когда агент не работал.",
    "oncall.button": "Принять",
    "oncall.acked": "Принял(а) {by} в {at}",
    "oncall.resolved": "Решено через {took} ({at})",
    "oncall.refused": "Вам не разрешено принимать инциденты в этом чате.",
    "oncall.ack_recorded": "Принято: эскалация остановлена.",
    "oncall.ack_already": "Уже принято: {by}.",
    "oncall.ack_closed": "Инцидент уже закрыт.",
    "severity.critical": "критично",
    "severity.error": "не удаётся проверить",
    "severity.warning": "предупреждение",
    "severity.ok": "в норме",
    "severity.pending": "ожидает проверки",
    "page.title": "sitewatch: не в норме {failing}, {sites}",
    "page.heading": "Состояние сайтов (sitewatch)",
    "page.sites.one": "{count} сайт",
    "page.sites.few": "{count} сайта",
    "page.sites.many": "{count} сайтов",
    "page.sites.other": "{count} сайта",
    "page.reloads": "обновляется каждые {seconds}",
    "page.history": "история",
    "page.spark_title": "время ответа за 24 ч: от {low} до {high}, последнее {last}",
    "page.spark": "время ответа за 24 ч: {low}–{high}, последнее {last}",
    "page.no_spark": "за последние 24 ч нет замеров времени ответа",
    "page.col.check": "проверка",
    "page.col.summary": "результат",
    "page.col.last_run": "последний запуск",
    "page.col.took": "длительность",
    "page.no_sites": "Сайты не настроены.",
    "page.open_incidents": "Открытые инциденты ({count})",
    "page.col.site_check": "сайт / проверка",
    "page.col.severity": "серьёзность",
    "page.col.opened": "открыт",
    "page.col.resolved": "закрыт",
    "page.col.tickets": "тикеты",
    "page.col.deadlines": "реакция до / решение до",
    "sla.running": "идёт",
    "sla.paused": "на паузе",
    "sla.met": "выполнено",
    "sla.breached": "нарушено",
    "page.flapping": "мигает",
    "page.pending_deliveries": "в очереди: {count}",
    "page.no_sinks": "нет получателей",
    "page.none": "Нет.",
    "page.silenced": "Без оповещений ({count})",
    "page.maintenance": "Плановые работы ({count})",
    "page.col.site": "сайт",
    "page.col.until": "до",
    "page.col.by": "кто",
    "page.col.reason": "причина",
    "page.recently_resolved": "Недавно закрытые",
    "page.deliveries": "Доставка тикетов",
    "page.oldest": "самому старому {age}",
    "page.dead_letters.one": "{count} недоставленный",
    "page.dead_letters.few": "{count} недоставленных",
    "page.dead_letters.many": "{count} недоставленных",
    "page.dead_letters.other": "{count} недоставленного",
    "page.col.incident": "инцидент",
    "page.col.sink": "получатель",
    "page.col.action": "действие",
    "page.col.created": "создано",
    "page.col.error": "ошибка",
    "page.never": "никогда",
    "page.ago": "{time} назад",
    "page.no_data": "нет данных",
    "page.network.offline": "Агент не может выйти в сеть с {since}: не отвечает ни одна опорная цель.",
    "page.network.recovering": "Агент снова в сети с {since}; его инцидент скоро закроется.",
    "page.network.unconfirmed": "Сбои сайтов за это время не подтверждены, своих тикетов у них нет: {count}.",
    "page.network.ok": "Сеть: отвечают {ok} из {count} опорных целей.",
    "page.network.unknown": "Сеть: опорные цели ещё не проверены.",
}

_TABLES: dict[str, dict[str, str]] = {"en": {**_EN, **REPORT_EN}, "ru": {**_RU, **REPORT_RU}}


def text(language: str, message: str, /, **values: Any) -> str:
    """The ``message`` in ``language`` (English if the language is unknown), filled in."""
    return _TABLES.get(language, _EN)[message].format(**values)


@functools.lru_cache(maxsize=8)
def _locale(language: str) -> Locale:
    return Locale.parse(language if language in _TABLES else "en")


def plural(language: str, message: str, count: float, /, **values: Any) -> str:
    """The form of ``message`` that CLDR's plural rules choose for ``count`` (``5 сайтов``)."""
    table = _TABLES.get(language, _EN)
    form = _locale(language).plural_form(count)
    return table.get(f"{message}.{form}", table[f"{message}.other"]).format(count=count, **values)


def plural_forms(language: str) -> frozenset[str]:
    """The plural categories ``language`` needs (for the test that holds the tables complete)."""
    return frozenset(_locale(language).plural_form.tags | {"other"})


def severity_word(severity: str | None, language: str) -> str:
    """``critical`` → ``критично``; an unknown severity is shown as it is."""
    table = _TABLES.get(language, _EN)
    return table.get(f"severity.{severity}", str(severity or ""))


def tables() -> dict[str, dict[str, str]]:
    """Every language's table (for the test that holds their keys equal)."""
    return _TABLES
