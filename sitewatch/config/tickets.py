"""``tickets:`` config: which sinks receive incidents, each with its own settings."""

from __future__ import annotations

from typing import Annotated, Literal

import pydantic

from sitewatch.config.escalation import TelegramNotifierConfig
from sitewatch.probe import Duration

__all__ = [
    "EmailSinkConfig",
    "JiraSinkConfig",
    "LocalSinkConfig",
    "NotifierConfig",
    "RedmineSinkConfig",
    "RtSinkConfig",
    "SinkConfig",
    "SlaTarget",
    "StatusMap",
    "TicketsConfig",
    "WebhookSinkConfig",
]


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class _Sink(_Model):
    #: Override the built-in texts with $placeholders: $site $check $severity $priority $summary
    #: $key $url $agent $since $at $downtime $runbook $respond_by $resolve_by (string.Template syntax; unknown ones
    #: stay as written).
    templates: dict[Literal["title", "body", "comment"], str] = {}


class StatusMap(_Model):
    """Desk statuses (names, any case) that mean acknowledged, waiting for the client, or resolved."""

    acknowledged: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()

    @pydantic.model_validator(mode="after")
    def _disjoint(self) -> StatusMap:
        seen: dict[str, str] = {}
        for state in ("acknowledged", "waiting", "resolved"):
            for name in getattr(self, state):
                if (other := seen.setdefault(name.casefold(), state)) != state:
                    raise ValueError(f"status {name!r} is in both {other} and {state}")
        return self


class _ReadBack(_Sink):
    #: Read each open ticket's status back so the SLA clock follows the desk; unset: never read.
    status_map: StatusMap | None = None
    #: How often the open tickets' statuses are read.
    read_every: Annotated[Duration, pydantic.Field(ge=10)] = 60.0


class LocalSinkConfig(_Sink):
    """The embedded ticket store (`sitewatch tickets`)."""

    type: Literal["local"]
    name: str = "local"


class WebhookSinkConfig(_Sink):
    """A JSON POST per incident event, optionally signed with HMAC-SHA256."""

    type: Literal["webhook"]
    name: str = "webhook"
    url: Annotated[str, pydantic.Field(pattern=r"^https?://")]
    secret: str | None = None
    headers: dict[str, str] = {}


class RedmineSinkConfig(_ReadBack):
    """Redmine REST: issues in ``project``, the incident key in custom field ``key_field_id``."""

    type: Literal["redmine"]
    name: str = "redmine"
    url: Annotated[str, pydantic.Field(pattern=r"^https?://")]
    api_key: str
    project: str
    tracker_id: int = 1
    key_field_id: int
    closed_status_id: int = 5  # Redmine's default "Closed"; "Resolved" (3) is not a closed status
    priority_ids: dict[Literal["P1", "P2", "P3", "P4"], int] = {"P1": 5, "P2": 4, "P3": 3, "P4": 2}


class JiraSinkConfig(_ReadBack):
    """Jira Cloud (email + api_token) or Data Center (pat); the incident key as a label."""

    type: Literal["jira"]
    name: str = "jira"
    url: Annotated[str, pydantic.Field(pattern=r"^https?://")]
    project: str
    issue_type: str = "Task"
    resolve_transition: str = "Done"
    priority_names: dict[Literal["P1", "P2", "P3", "P4"], str] = {
        "P1": "Highest",
        "P2": "High",
        "P3": "Medium",
        "P4": "Low",
    }
    email: str | None = None
    api_token: str | None = None
    pat: str | None = None

    @pydantic.model_validator(mode="after")
    def _auth(self) -> JiraSinkConfig:
        if not self.pat and not (self.email and self.api_token):
            raise ValueError("set pat: (Data Center) or email: and api_token: (Cloud)")
        return self


class RtSinkConfig(_ReadBack):
    """Request Tracker REST2: tickets in ``queue``, the incident key in custom field ``key_field``."""

    type: Literal["rt"]
    name: str = "rt"
    url: Annotated[str, pydantic.Field(pattern=r"^https?://")]  # including the web path, e.g. https://rt.example/rt
    queue: str = "General"
    key_field: str = "sitewatch_incident_key"
    priorities: dict[Literal["P1", "P2", "P3", "P4"], int] = {"P1": 90, "P2": 70, "P3": 50, "P4": 20}
    username: str | None = None
    password: str | None = None
    token: str | None = None

    @pydantic.model_validator(mode="after")
    def _auth(self) -> RtSinkConfig:
        if not self.token and not (self.username and self.password):
            raise ValueError("set token: or username: and password:")
        return self


class EmailSinkConfig(_Sink):
    """SMTP: one mail per event, threaded; put the password in ${ENV} or ${file:...}."""

    type: Literal["email"]
    name: str = "email"
    host: str
    port: Annotated[int, pydantic.Field(ge=1, le=65535)] = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    sender: str
    to: tuple[str, ...] = pydantic.Field(min_length=1)
    ca_file: str | None = None  # for a relay with an internal CA
    timeout: Duration = 30.0


SinkConfig = Annotated[
    LocalSinkConfig | WebhookSinkConfig | RedmineSinkConfig | JiraSinkConfig | RtSinkConfig | EmailSinkConfig,
    pydantic.Field(discriminator="type"),
]


#: An escalation target of ``tickets: notifiers:``: it receives escalation steps, never tickets.
NotifierConfig = Annotated[
    TelegramNotifierConfig | EmailSinkConfig | WebhookSinkConfig,
    pydantic.Field(discriminator="type"),
]


class SlaTarget(_Model):
    """What the contract promises for one priority."""

    response: Duration
    resolve: Duration


class TicketsConfig(_Model):
    """``tickets:`` — where incidents go, in which language, with which SLA targets."""

    sinks: tuple[SinkConfig, ...] = (LocalSinkConfig(type="local"),)
    language: Literal["en", "ru"] = "en"
    sla: dict[Literal["P1", "P2", "P3", "P4"], SlaTarget] = {}
    #: Escalation targets that take no tickets: Telegram chats, a manager's e-mail (docs/escalation.md).
    notifiers: tuple[NotifierConfig, ...] = ()

    @pydantic.field_validator("notifiers")
    @classmethod
    def _unique_notifiers(cls, notifiers: tuple[NotifierConfig, ...]) -> tuple[NotifierConfig, ...]:
        names = [n.name for n in notifiers]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"notifier names must be unique; set name: on each of {', '.join(duplicated)}")
        return notifiers

    @pydantic.field_validator("sinks")
    @classmethod
    def _unique(cls, sinks: tuple[SinkConfig, ...]) -> tuple[SinkConfig, ...]:
        names = [s.name for s in sinks]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"sink names must be unique; set name: on each of {', '.join(duplicated)}")
        return sinks
