"""Escalation policies and on-call notifiers: ``clients: escalation:`` and ``tickets: notifiers:``.

A policy lists, per priority, the steps of a chain: each fires ``after`` a delay from the
incident's opening, or ``at`` a deadline (``respond_by - 5m``), notifies its ``notify:`` targets
and comments on the ticket; a step with ``repeat:`` fires again at that interval until someone
acknowledges. Targets name ``tickets: notifiers:`` (a Telegram chat, an e-mail, a webhook) or an
``email`` / ``webhook`` entry of ``tickets: sinks:``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

import pydantic

from sitewatch.config.sourcemap import Problem, SourceMap, format_path
from sitewatch.probe import Duration
from sitewatch.units import parse_duration

__all__ = [
    "Anchor",
    "EscalationStep",
    "TelegramNotifierConfig",
    "escalation_problems",
]

Anchor = Literal["respond_by", "resolve_by"]
_AT = re.compile(r"\s*(respond_by|resolve_by)\s*(?:([+-])\s*(\S+))?\s*")


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


def _at(value: Any) -> Any:
    """``respond_by - 5m`` → ``("respond_by", -300.0)``; tuples pass (a model copy)."""
    if not isinstance(value, str):
        return value
    match = _AT.fullmatch(value)
    if match is None:
        raise ValueError(
            f"expected respond_by or resolve_by, optionally - or + a duration (respond_by - 5m), got {value!r}"
        )
    anchor, sign, amount = match.groups()
    offset = 0.0
    if amount is not None:
        try:
            offset = parse_duration(amount)
        except ValueError as exc:
            raise ValueError(f"{exc} in {value!r}") from None
    return (anchor, -offset if sign == "-" else offset)


#: A deadline-relative moment: the deadline and seconds after it (negative: before it).
At = Annotated[tuple[Anchor, float], pydantic.BeforeValidator(_at)]


class EscalationStep(_Model):
    """One step of a chain: when it fires and whom it notifies."""

    #: Fire this long after the incident opened (``0m``: at once).
    after: Duration | None = None
    #: Or fire relative to a deadline: ``respond_by - 5m``, ``resolve_by``, ``respond_by + 10m``.
    at: At | None = None
    #: Names of ``tickets: notifiers:`` or of e-mail / webhook ``tickets: sinks:``.
    notify: tuple[str, ...] = pydantic.Field(min_length=1)
    #: The level's name in messages and ticket comments (``L1``, ``L2``, ``manager``).
    level: str | None = None
    #: Fire again at this interval until the incident is acknowledged (the on-duty level).
    repeat: Duration | None = None

    @pydantic.model_validator(mode="after")
    def _when(self) -> EscalationStep:
        if (self.after is None) == (self.at is None):
            raise ValueError("set exactly one of after: (a delay from the opening) or at: (respond_by - 5m)")
        if self.repeat is not None and self.repeat < 60:
            raise ValueError(f"repeat: must be at least 1m (got {self.repeat:g}s): a chat is not a pager loop")
        return self


class TelegramNotifierConfig(_Model):
    """A Telegram chat the agent's bot writes escalation messages to (Bot API ``sendMessage``)."""

    type: Literal["telegram"]
    name: str = "telegram"
    #: The bot's token from BotFather: always a secret reference (``${TELEGRAM_BOT_TOKEN}``).
    bot_token: Annotated[str, pydantic.Field(min_length=1)]
    #: The chat: a numeric id (groups are negative, ``-1001234567890``) or ``@channelname``.
    chat_id: int | Annotated[str, pydantic.Field(pattern=r"^@[A-Za-z][A-Za-z0-9_]{3,}$")]
    #: Telegram user ids (stable) or usernames (``@ivan``) whose Acknowledge button press counts.
    #: Empty: messages carry no button.
    allowed_users: tuple[int | str, ...] = ()
    #: The Bot API's base address; tests point it at an emulator.
    api_url: Annotated[str, pydantic.Field(pattern=r"^https?://")] = "https://api.telegram.org"
    #: How long one getUpdates long poll waits for a button press (the Bot API allows up to 50 s).
    poll_timeout: Annotated[Duration, pydantic.Field(ge=1, le=50)] = 25.0
    #: Message language; unset: the client's.
    language: Literal["en", "ru"] | None = None

    @pydantic.field_validator("allowed_users")
    @classmethod
    def _users(cls, users: tuple[int | str, ...]) -> tuple[int | str, ...]:
        for user in users:
            if isinstance(user, str) and not re.fullmatch(r"@?[A-Za-z][A-Za-z0-9_]{3,31}", user):
                raise ValueError(f"expected a Telegram user id (a number) or a username such as @ivan, got {user!r}")
        return users


def escalation_problems(
    clients: Iterable[Any], sinks: Iterable[Any], notifiers: Iterable[Any], sla: Mapping[Any, Any], smap: SourceMap
) -> list[Problem]:
    """Located problems: unknown or unfit targets, deadline steps without a target, duplicate names,
    ticket templates on a notifier."""
    sinks, notifiers = list(sinks), list(notifiers)
    problems: list[Problem] = []
    sink_names = {s.name for s in sinks}
    for k, entry in enumerate(notifiers):
        where = ("tickets", "notifiers", k, "name")
        if entry.name in sink_names:
            message = f"{_shown(entry.name, smap, where)} is already a sink's name; names must be unique"
            problems.append(_at_path(smap, where, message))
        # An e-mail or webhook notifier shares a sink's model, templates: included, but an on-call
        # message is the escalation's own text: accepting the key would promise what nothing does.
        if getattr(entry, "templates", None):
            message = "a notifier sends the escalation's own message; templates: belong on tickets: sinks:"
            problems.append(_at_path(smap, ("tickets", "notifiers", k, "templates"), message))
    # Names that came from a secret are never listed among the valid ones in a message.
    hidden = {n.name for k, n in enumerate(notifiers) if smap.is_secret(("tickets", "notifiers", k, "name"))}
    hidden |= {s.name for k, s in enumerate(sinks) if smap.is_secret(("tickets", "sinks", k, "name"))}
    targets = {n.name for n in notifiers} | {s.name for s in sinks if s.type in ("email", "webhook")}
    for i, client in enumerate(clients):
        targets_sla = client.sla if client.sla is not None else sla
        for priority, steps in client.escalation.items():
            for j, step in enumerate(steps):
                here = ("clients", i, "escalation", priority, j)
                for n, name in enumerate(step.notify):
                    if name not in targets:
                        known = ", ".join(sorted(targets - hidden)) or "none configured"
                        shown = _shown(name, smap, (*here, "notify", n))
                        message = f"expected a notifier or an email/webhook sink ({known}), got {shown}"
                        problems.append(_at_path(smap, (*here, "notify", n), message))
                if step.at is not None and priority not in targets_sla:
                    message = f"{step.at[0]} needs an SLA target for {priority} (clients[].sla: or tickets: sla:)"
                    problems.append(_at_path(smap, (*here, "at"), message))
    return problems


def _shown(value: str, smap: SourceMap, path: tuple[Any, ...]) -> str:
    """``value`` quoted for a message, unless it came from a secret."""
    return "a value from a secret (not shown)" if smap.is_secret(path) else repr(value)


def _at_path(smap: SourceMap, path: tuple[Any, ...], message: str) -> Problem:
    return Problem(smap.origin(path), format_path(path), message)
