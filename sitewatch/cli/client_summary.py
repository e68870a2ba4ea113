"""``check-config``'s lines per client: its sites, where its tickets go, its zone, language and calendar."""

from __future__ import annotations

from sitewatch.config.calendar import WEEKDAYS, CalendarConfig
from sitewatch.config.clients import DEFAULT_CLIENT, ClientConfig
from sitewatch.config.specs import Config

__all__ = ["calendar_text", "client_lines"]


def client_lines(config: Config) -> list[str]:
    """One line per client (the default one only when it has sites or is configured)."""
    book = config.client_book
    lines = []
    for name, entry in sorted(book.by_name.items()):
        sites = [s for s in config.sites if s.client == name]
        if not sites and entry == ClientConfig(name=DEFAULT_CLIENT):
            continue  # the implicit default client, with nothing of its own
        base = book.route(name, ())
        extra: list[str] = []
        for site in sites:
            for sink in book.route(name, site.info.tags).sinks:
                if sink not in base.sinks and sink not in extra:
                    extra.append(sink)
        sinks = ", ".join(base.sinks) or "none"
        if extra:
            sinks += f" (+ by tags: {', '.join(extra)})"
        title = f" ({entry.title})" if entry.title else ""
        count = f"{len(sites)} site{'s' if len(sites) != 1 else ''}"
        page = ", page /clients/" + name + "/" if entry.token else ""
        where = f"{base.language}, {base.timezone}, {calendar_text(entry.calendar)}"
        lines.append(f"    {name}{title}: {count}; sinks: {sinks}; {where}{page}")
    return lines


def calendar_text(calendar: CalendarConfig) -> str:
    """``24x7``, or ``mon-fri 09:00-18:00, RU holidays, 2 days off, 1 working day`` (runs of equal hours)."""
    if calendar.hours is None:
        return "24x7"
    runs: list[tuple[int, int, tuple[int, int]]] = []  # (first day, last day, hours)
    for day in sorted(calendar.hours):
        hours = calendar.hours[day]
        if runs and runs[-1][1] == day - 1 and runs[-1][2] == hours:
            runs[-1] = (runs[-1][0], day, hours)
        else:
            runs.append((day, day, hours))
    parts = [
        f"{WEEKDAYS[first]}{'-' + WEEKDAYS[last] if last != first else ''} {_hhmm(start)}-{_hhmm(end)}"
        for first, last, (start, end) in runs
    ]
    if calendar.country:
        parts.append(f"{calendar.country} holidays")
    for count, one, many in (
        (len(calendar.days_off), "day off", "days off"),
        (len(calendar.working_days), "working day", "working days"),
    ):
        if count:
            parts.append(f"{count} {one if count == 1 else many}")
    return ", ".join(parts)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
