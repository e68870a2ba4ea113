"""The report's texts (``sitewatch report``: the HTML page, the table, the SLA compliance section), per language.

Kept apart from :mod:`sitewatch.i18n.catalog`, which merges them into its tables: the same rule
holds (a test keeps every language's keys equal), the catalog just stays readable.
"""

from __future__ import annotations

__all__ = ["REPORT_EN", "REPORT_RU"]

REPORT_EN: dict[str, str] = {
    # the availability page (HTML) and the operator's table
    "report.heading": "{client}: availability, {period}",
    "report.period": "{start} to {end}",
    "report.col.site": "Site",
    "report.col.check": "Check",
    "report.col.availability": "Availability",
    "report.col.downtime": "Downtime",
    "report.col.no_data": "No data",
    "report.col.maintenance": "Maintenance",
    "report.col.incidents": "Incidents",
    "report.col.mttr": "MTTR",
    "report.col.longest": "Longest outage",
    "report.col.sla": "SLA",
    "report.col.result": "Result",
    "report.site_row": "(site)",
    "report.not_counted": "{check} (not counted)",
    "report.met": "met",
    "report.missed": "missed",
    "report.no_data": "no data",
    "report.note": "Availability = up / (up + down). Maintenance windows are excluded; time without data"
    " (agent stopped, gaps) is shown apart and never counted as up. A site is down while any of its"
    " counted checks is down. MTTR: mean time from an incident opening to its resolution.",
    "report.all_sites": "All sites",
    "report.last": "last {span}",
    "report.table.heading": "Availability {period}: {start} to {end} ({zone})",
    "report.table.cols": "SITE|CHECK|AVAILABILITY|DOWNTIME|NO DATA|MAINTENANCE|INCIDENTS|MTTR|LONGEST|SLA|RESULT",
    # SLA compliance: the HTML section (report and client page)
    "compliance.heading": "SLA compliance, {period}",
    "compliance.note": "Times to respond and to resolve are service time on the client's calendar; time waiting"
    " for the client is not counted. Met: goals kept of goals decided (response and resolution together);"
    " a goal still running is not counted yet.",
    "compliance.none": "No incidents with SLA targets in this period.",
    "compliance.col.priority": "Priority",
    "compliance.col.incidents": "Incidents",
    "compliance.col.response": "Response",
    "compliance.col.resolve": "Resolution",
    "compliance.col.target": "target",
    "compliance.col.mean": "mean",
    "compliance.col.max": "longest",
    "compliance.col.met": "met",
    "compliance.col.missed": "missed",
    "compliance.col.met_percent": "Met",
    "compliance.breaches": "Breaches ({count})",
    "compliance.col.incident": "Incident",
    "compliance.col.goal": "Goal missed",
    "compliance.col.opened": "Opened",
    "compliance.col.due": "Due",
    "compliance.col.done": "Done",
    "compliance.col.over": "Over by",
    "compliance.col.steps": "Escalation steps that fired",
    "compliance.kind.response": "response",
    "compliance.kind.resolve": "resolution",
    "compliance.paused": "paused",
    "compliance.not_yet": "not yet",
    "compliance.no_steps": "none",
    "compliance.step": "{level}: {at}, {timing}",
    "compliance.step_repeat": "{level} (reminder {count}): {at}, {timing}",
    "compliance.on_time": "on time",
    "compliance.late": "late (due {due})",
    # SLA compliance: the table's section (plain text)
    "compliance.text.heading": "SLA compliance (service time on each client's calendar, waiting for the client"
    " excluded)",
    "compliance.text.none": "no incidents with SLA targets in this period",
    "compliance.text.client": "client {client} ({zone})",
    "compliance.text.cols": "PRIO|INCIDENTS|RESPOND TARGET|MEAN|MAX|MET|MISSED|RESOLVE TARGET|MEAN|MAX|MET|MISSED"
    "|MET %",
    "compliance.text.breach": "breached: {priority} {kind} of {key}: due {due}, done {done}, over by {over}",
    "compliance.text.kind.response": "response",
    "compliance.text.kind.resolve": "resolve",
    "compliance.text.step": "escalation {level}: {at}",
    "compliance.text.repeat": "escalation {level} (reminder {count}): {at}",
    "compliance.text.late": ", late (due {due})",
}

REPORT_RU: dict[str, str] = {
    "report.heading": "{client}: доступность, {period}",
    "report.period": "с {start} по {end}",
    "report.col.site": "Сайт",
    "report.col.check": "Проверка",
    "report.col.availability": "Доступность",
    "report.col.downtime": "Простой",
    "report.col.no_data": "Нет данных",
    "report.col.maintenance": "Обслуживание",
    "report.col.incidents": "Инциденты",
    "report.col.mttr": "Среднее время восстановления",
    "report.col.longest": "Самый долгий простой",
    "report.col.sla": "SLA",
    "report.col.result": "Итог",
    "report.site_row": "(сайт)",
    "report.not_counted": "{check} (не учитывается)",
    "report.met": "выполнен",
    "report.missed": "не выполнен",
    "report.no_data": "нет данных",
    "report.note": "Доступность = время работы / (время работы + простой). Плановые работы исключены; время"
    " без данных (агент остановлен, пропуски) показано отдельно и никогда не считается работой. Сайт"
    " считается недоступным, пока не проходит любая из учитываемых проверок. Среднее время"
    " восстановления: от открытия инцидента до его закрытия.",
    "report.all_sites": "Все сайты",
    "report.last": "последние {span}",
    "report.table.heading": "Доступность за {period}: с {start} по {end} ({zone})",
    "report.table.cols": "САЙТ|ПРОВЕРКА|ДОСТУПНОСТЬ|ПРОСТОЙ|НЕТ ДАННЫХ|ОБСЛУЖИВАНИЕ|ИНЦИДЕНТЫ|СР. ВОССТ.|МАКС. ПРОСТОЙ"
    "|SLA|ИТОГ",
    "compliance.heading": "Соблюдение SLA, {period}",
    "compliance.note": "Время реакции и решения считается в рабочем времени по календарю клиента; время ожидания"
    " ответа клиента не учитывается. Выполнено: доля соблюдённых сроков среди определившихся (реакция и решение"
    " вместе); срок, который ещё идёт, пока не учитывается.",
    "compliance.none": "В этом периоде не было инцидентов со сроками SLA.",
    "compliance.col.priority": "Приоритет",
    "compliance.col.incidents": "Инциденты",
    "compliance.col.response": "Реакция",
    "compliance.col.resolve": "Решение",
    "compliance.col.target": "срок",
    "compliance.col.mean": "в среднем",
    "compliance.col.max": "дольше всего",
    "compliance.col.met": "в срок",
    "compliance.col.missed": "нарушено",
    "compliance.col.met_percent": "Выполнено",
    "compliance.breaches": "Нарушения ({count})",
    "compliance.col.incident": "Инцидент",
    "compliance.col.goal": "Нарушен срок",
    "compliance.col.opened": "Открыт",
    "compliance.col.due": "Истекал",
    "compliance.col.done": "Когда выполнено",
    "compliance.col.over": "Просрочка",
    "compliance.col.steps": "Сработавшие шаги эскалации",
    "compliance.kind.response": "реакция",
    "compliance.kind.resolve": "решение",
    "compliance.paused": "на паузе",
    "compliance.not_yet": "ещё нет",
    "compliance.no_steps": "нет",
    "compliance.step": "{level}: {at}, {timing}",
    "compliance.step_repeat": "{level} (напоминание {count}): {at}, {timing}",
    "compliance.on_time": "вовремя",
    "compliance.late": "с опозданием (срок был {due})",
    "compliance.text.heading": "Соблюдение SLA (рабочее время по календарю каждого клиента, ожидание ответа клиента"
    " не учитывается)",
    "compliance.text.none": "в этом периоде не было инцидентов со сроками SLA",
    "compliance.text.client": "клиент {client} ({zone})",
    "compliance.text.cols": "ПРИОР.|ИНЦИДЕНТЫ|СРОК РЕАКЦИИ|СРЕДН.|МАКС.|В СРОК|НАРУШ.|СРОК РЕШЕНИЯ|СРЕДН.|МАКС.|В СРОК"
    "|НАРУШ.|ВЫП. %",
    "compliance.text.breach": "нарушено: {priority}, {kind}, {key}: срок {due}, выполнено {done}, просрочка {over}",
    "compliance.text.kind.response": "реакция",
    "compliance.text.kind.resolve": "решение",
    "compliance.text.step": "эскалация {level}: {at}",
    "compliance.text.repeat": "эскалация {level} (напоминание {count}): {at}",
    "compliance.text.late": ", с опозданием (срок был {due})",
}
