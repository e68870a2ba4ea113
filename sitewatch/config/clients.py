"""``clients:`` — each client's contract: language, zone, SLA targets and ticket routing.

A site names its ``client:``; one without belongs to the default client (``default``), which
``tickets: sla:`` and ``tickets: language:`` describe unless a client named ``default`` is
configured. Routing names sinks of ``tickets: sinks:``; a client's overrides of a sink's
destination fields make a per-client copy of that sink, named ``<sink>@<client>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pydantic

from sitewatch.config.calendar import CalendarConfig
from sitewatch.config.escalation import EscalationStep
from sitewatch.config.fieldtypes import _timezone
from sitewatch.config.sourcemap import Problem, SourceMap, format_path
from sitewatch.config.tickets import SinkConfig, SlaTarget, TicketsConfig

__all__ = [
    "DEFAULT_CLIENT",
    "ClientConfig",
    "Clients",
    "OVERRIDABLE",
    "Route",
    "RoutingConfig",
    "RoutingRule",
    "client_problems",
    "token_problems",
]

#: The client of every site that names none.
DEFAULT_CLIENT = "default"
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")

#: Per sink type, the settings that select where a ticket goes (what a client may override).
OVERRIDABLE: Mapping[str, frozenset[str]] = {
    "local": frozenset(),
    "redmine": frozenset({"project", "tracker_id"}),
    "rt": frozenset({"queue"}),
    "jira": frozenset({"project", "issue_type"}),
    "email": frozenset({"to"}),
    "webhook": frozenset({"url", "secret"}),
}

Priority = Literal["P1", "P2", "P3", "P4"]


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class RoutingRule(_Model):
    """``routing: rules:`` — a site carrying any of ``tags`` also goes to ``sinks``."""

    tags: tuple[str, ...] = pydantic.Field(min_length=1)
    sinks: tuple[str, ...] = pydantic.Field(min_length=1)


class RoutingConfig(_Model):
    """``routing:`` — the sinks of a client's incidents (all configured ones when unset)."""

    sinks: tuple[str, ...] | None = None
    #: Per sink name, the destination fields to use for this client (see :data:`OVERRIDABLE`).
    overrides: dict[str, dict[str, Any]] = {}
    rules: tuple[RoutingRule, ...] = ()


class ClientConfig(_Model):
    """One entry of ``clients:``."""

    #: A label-safe key: lower-case letters, digits, ``.``, ``_``, ``-`` (it becomes a metric label).
    name: str
    #: The client's name for people, in any script (its page's and reports' heading); unset: ``name``.
    title: Annotated[str, pydantic.Field(min_length=1, max_length=200)] | None = None
    #: Ticket, page and report language; unset: ``tickets.language``.
    language: Literal["en", "ru"] | None = None
    #: The zone of the client's times; unset: ``agent.timezone``.
    timezone: str | None = None
    #: Response and resolve targets by priority; unset: ``tickets: sla:``.
    sla: dict[Priority, SlaTarget] | None = None
    #: When the SLA clock runs (``24x7`` or working hours, holidays, own days off); unset: 24x7.
    calendar: CalendarConfig = CalendarConfig()
    routing: RoutingConfig = RoutingConfig()
    #: Bearer token (or basic-auth password with the client's name) that opens ``/clients/<name>/``
    #: and the client's API, and nothing else; write it as ``${ENV}`` or ``${file:…}``.
    token: Annotated[str, pydantic.Field(min_length=20)] | None = None
    #: Per priority, the escalation chain of an unacknowledged incident (docs/escalation.md).
    escalation: dict[Priority, tuple[EscalationStep, ...]] = {}

    @pydantic.field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                "expected a key of lower-case letters, digits, '.', '_' or '-'"
                f" (it becomes a metric label), got {value!r}"
            )
        return value

    @pydantic.field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _timezone(value)


@dataclass(frozen=True, slots=True)
class Route:
    """Where one site's incidents go and on which terms: what the tracker puts in a ticket."""

    client: str
    sinks: tuple[str, ...]
    sla: Mapping[Priority, SlaTarget]
    language: str
    timezone: str
    calendar: CalendarConfig = CalendarConfig()


@dataclass(frozen=True)
class Clients:
    """The configured clients with the default one resolved, and the sinks their routing needs."""

    by_name: Mapping[str, ClientConfig]
    tickets: TicketsConfig
    timezone: str

    @classmethod
    def build(cls, clients: Iterable[ClientConfig], tickets: TicketsConfig, timezone: str) -> Clients:
        """Index ``clients`` and add the default client when it is not configured."""
        by_name = {c.name: c for c in clients}
        by_name.setdefault(DEFAULT_CLIENT, ClientConfig(name=DEFAULT_CLIENT))
        return cls(by_name, tickets, timezone)

    def get(self, name: str | None) -> ClientConfig:
        """The client called ``name`` (the default one for None)."""
        return self.by_name[name or DEFAULT_CLIENT]

    def route(self, client: str | None, tags: Iterable[str]) -> Route:
        """The sinks and terms of a site of ``client`` with ``tags``."""
        entry = self.get(client)
        configured = [s.name for s in self.tickets.sinks]
        names = list(entry.routing.sinks if entry.routing.sinks is not None else configured)
        tagset = set(tags)
        for rule in entry.routing.rules:
            if tagset & set(rule.tags):
                names += [n for n in rule.sinks if n not in names]
        sinks = tuple(f"{n}@{entry.name}" if n in entry.routing.overrides else n for n in names)
        return Route(
            client=entry.name,
            sinks=sinks,
            sla=entry.sla if entry.sla is not None else self.tickets.sla,
            language=entry.language or self.tickets.language,
            timezone=entry.timezone or self.timezone,
            calendar=entry.calendar,
        )

    def derived_sinks(self) -> tuple[SinkConfig, ...]:
        """A copy of each overridden sink with the client's fields, named ``<sink>@<client>``."""
        base = {s.name: s for s in self.tickets.sinks}
        out: list[SinkConfig] = []
        for entry in self.by_name.values():
            for sink, fields in entry.routing.overrides.items():
                if sink in base:
                    values = {k: _field(base[sink], k).validate_python(v) for k, v in fields.items()}
                    out.append(base[sink].model_copy(update={**values, "name": f"{sink}@{entry.name}"}))
        return tuple(out)


def _field(model: pydantic.BaseModel, name: str) -> pydantic.TypeAdapter[Any]:
    """A validator of one field of ``model``'s class, with its constraints."""
    info = type(model).model_fields[name]
    annotation: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return pydantic.TypeAdapter(annotation)


def client_problems(
    clients: Iterable[ClientConfig], tickets: TicketsConfig, site_clients: Iterable[tuple[int, str]], smap: SourceMap
) -> list[Problem]:
    """Located problems: duplicate names, unknown sinks or fields in routing, sites naming unknown clients."""
    clients = list(clients)
    problems: list[Problem] = []
    sinks = {s.name: s for s in tickets.sinks}
    # Names that came from a secret are never listed among the valid ones in a message.
    hidden = {s.name for k, s in enumerate(tickets.sinks) if smap.is_secret(("tickets", "sinks", k, "name"))}
    hidden |= {c.name for k, c in enumerate(clients) if smap.is_secret(("clients", k, "name"))}
    seen: dict[str, int] = {}
    for i, entry in enumerate(clients):
        here = ("clients", i)
        if entry.name in seen:
            first = smap.origin(("clients", seen[entry.name], "name"))
            problems.append(
                _at(smap, (*here, "name"), f"duplicate client name {entry.name!r} (first defined at {first})")
            )
        seen.setdefault(entry.name, i)
        named: list[tuple[Any, ...]] = [("sinks", j, n) for j, n in enumerate(entry.routing.sinks or ())]
        named += [
            ("rules", r, "sinks", j, n) for r, rule in enumerate(entry.routing.rules) for j, n in enumerate(rule.sinks)
        ]
        for *path, sink in named:
            if sink not in sinks:
                where = (*here, "routing", *path)
                problems.append(_at(smap, where, _unknown("sink", _shown(sink, smap, where), set(sinks) - hidden)))
        for sink, fields in entry.routing.overrides.items():
            where = (*here, "routing", "overrides", sink)
            if sink not in sinks:
                problems.append(_at(smap, where, _unknown("sink", _shown(sink, smap, where), set(sinks) - hidden)))
                continue
            allowed = OVERRIDABLE[sinks[sink].type]
            for field in sorted(set(fields) - allowed):
                expected = ", ".join(sorted(allowed)) or "nothing (this sink has no destination to choose)"
                problems.append(_at(smap, (*where, field), f"expected one of {expected}, got {field!r}"))  # a key
            if not set(fields) - allowed:
                problems += _override_problems(sinks[sink], fields, smap, where)
    known = set(seen) | {DEFAULT_CLIENT}
    for index, name in site_clients:
        if name not in known:
            where = ("sites", index, "client")
            problems.append(_at(smap, where, _unknown("client", _shown(name, smap, where), known - hidden)))
    return problems


def token_problems(
    clients: Iterable[ClientConfig], operator_token: str | None, operator_users: bool, smap: SourceMap
) -> list[Problem]:
    """Client tokens need operator credentials (else ``/`` shows every client to anyone) and must differ."""
    problems: list[Problem] = []
    owners: dict[str, str] = {}
    if operator_token is not None and ("agent", "operator_token") not in smap.unresolved:
        owners[operator_token] = "agent.operator_token"
    for i, entry in enumerate(clients):
        if entry.token is None:
            continue
        where = ("clients", i, "token")
        if operator_token is None and not operator_users:
            problems.append(
                _at(
                    smap,
                    where,
                    "a client token needs operator credentials too: set agent.operator_token (or basic_auth_users"
                    " in agent.web_config), otherwise the operator pages show every client's sites to anyone",
                )
            )
        # Placeholders of secrets not looked up (check-config --offline) are alike and prove nothing.
        if where in smap.unresolved:
            continue
        if entry.token in owners:
            problems.append(_at(smap, where, f"the same token as {owners[entry.token]}; give each client its own"))
        owners.setdefault(entry.token, f"client {entry.name!r}")
    return problems


def _override_problems(
    base: SinkConfig, fields: dict[str, Any], smap: SourceMap, where: tuple[Any, ...]
) -> list[Problem]:
    problems = []
    for key, value in fields.items():
        try:
            _field(base, key).validate_python(value)
        except pydantic.ValidationError as exc:
            problems += [_at(smap, (*where, key, *e["loc"]), f"expected {e['msg']}") for e in exc.errors()]
    return problems


def _shown(value: str, smap: SourceMap, path: tuple[Any, ...]) -> str:
    """``value`` quoted for a message, unless it came from a secret."""
    return "a value from a secret (not shown)" if smap.is_secret(path) else repr(value)


def _unknown(kind: str, shown: str, known: Iterable[str]) -> str:
    return f"expected one of the configured {kind}s ({', '.join(sorted(known)) or 'none'}), got {shown}"


def _at(smap: SourceMap, path: tuple[Any, ...], message: str) -> Problem:
    return Problem(smap.origin(path), format_path(path), message)
