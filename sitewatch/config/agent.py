"""``agent:`` — where the agent listens, keeps state and how hard it may probe, with its listener and bridge settings.

The section is read by the web server, the command line and the agent's wiring, none of
which needs the models of sites and checks; it is a module of its own for that reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic

from sitewatch import __version__
from sitewatch.config.fieldtypes import PositiveDuration, TimeZone
from sitewatch.config.references import ReferenceTarget
from sitewatch.config.shard import ShardConfig
from sitewatch.probe import Duration, Size

__all__ = ["DEFAULT_LISTEN", "AgentConfig", "AlertmanagerConfig", "ListenerConfig"]


#: 9879 is not taken in Prometheus' default-port allocation list for exporters.
DEFAULT_LISTEN = "127.0.0.1:9879"


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


def _listen(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected host:port like {DEFAULT_LISTEN}, got {value!r}")
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port like {DEFAULT_LISTEN} or [::1]:9879, got {value!r}")
    return value


class AlertmanagerConfig(pydantic.BaseModel):
    """``agent.alertmanager:`` — accept Alertmanager's webhook at ``POST /alertmanager``."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    #: Bearer token Alertmanager sends (http_config.authorization.credentials); put it in ${ENV} or ${file:…}.
    token: Annotated[str, pydantic.Field(min_length=20)] | None = None
    #: Request bodies above this are refused with 413 (lower Alertmanager's max_alerts instead).
    max_body: Size = 1024 * 1024
    #: Site importance for the priority matrix when an alert has no ``importance`` label.
    importance: Literal["high", "normal", "low"] = "normal"


class ListenerConfig(pydantic.BaseModel):
    """``agent.listener:`` — how the agent's HTTP listener treats slow, idle and too many clients."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    #: The first request's head must arrive within this (slowloris connections are closed).
    header_timeout: Annotated[Duration, pydantic.Field(gt=0, le=600)] = 10.0
    #: A connection with no request in progress is closed after this (longer than the scrape interval).
    idle_timeout: Annotated[Duration, pydantic.Field(gt=0, le=3600)] = 75.0
    #: Open connections at most; lowered at start when the descriptor limit needs it for the probes.
    max_connections: Annotated[int, pydantic.Field(ge=1, le=1_000_000)] = 512


class AgentConfig(_Model):
    """``agent:`` — where the agent listens, keeps state, and how hard it may probe."""

    listen: Annotated[str, pydantic.BeforeValidator(_listen)] = DEFAULT_LISTEN
    #: Timeouts and the connection cap of that listener (sitewatch.web.listener); read at start.
    listener: ListenerConfig = ListenerConfig()
    state_dir: Path = Path("/var/lib/sitewatch")
    concurrency: Annotated[int, pydantic.Field(ge=1, le=100_000)] = 256
    per_host_concurrency: Annotated[int, pydantic.Field(ge=1, le=10_000)] = 8
    #: Runs due within this much of each other start together (each up to this late): fewer
    #: event-loop wake-ups, and the connections they open are then served in shared loop turns.
    timer_slack: Annotated[Duration, pydantic.Field(ge=0, le=1.0)] = 0.02
    user_agent: str = f"sitewatch/{__version__}"
    #: Times people read (tickets, status page, reports) are shown in this zone, with its name.
    timezone: TimeZone = "UTC"
    #: The language of what people read from the agent itself: the status page and reports
    #: (tickets follow ``tickets.language``).
    language: Literal["en", "ru"] = "en"
    #: How long the result history (for availability reports) is kept.
    history_retention: PositiveDuration = 400 * 86400.0
    #: Prometheus-style web-config.yml: TLS and bcrypt basic auth for /metrics and the API.
    web_config: Path | None = None
    #: Bearer token that opens every route (operators, Prometheus); with ``clients: token:`` set, it
    #: or web_config users are required, so no page shows all clients to whoever asks.
    operator_token: Annotated[str, pydantic.Field(min_length=20)] | None = None
    #: ``POST /alertmanager``: Alertmanager's webhook as a ticket bridge (off unless enabled).
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    #: ``{index: I, of: N}``: probe only the sites rendezvous hashing gives shard I of N
    #: (``sitewatch run --shard I/N`` overrides it; sitewatch.config.shard).
    shard: ShardConfig | None = None
    #: ``host:port`` or http(s) URLs probed every ``reference_interval``: when all fail, one
    #: incident about the agent's network replaces the site ones (sitewatch.engine.reachability).
    reference_targets: Annotated[tuple[ReferenceTarget, ...], pydantic.Field(max_length=16)] = ()
    reference_interval: Annotated[Duration, pydantic.Field(gt=0, le=3600)] = 10.0
    reference_timeout: Annotated[Duration, pydantic.Field(gt=0, le=60)] = 3.0

    @property
    def host_port(self) -> tuple[str, int]:
        """``listen`` split for binding (brackets stripped from IPv6)."""
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)
