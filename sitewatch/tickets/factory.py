"""Builds the configured sinks."""

from __future__ import annotations

from typing import Any

import aiohttp

from sitewatch.config.tickets import (
    JiraSinkConfig,
    LocalSinkConfig,
    RedmineSinkConfig,
    RtSinkConfig,
    SinkConfig,
    TicketsConfig,
    WebhookSinkConfig,
)
from sitewatch.store.database import Store
from sitewatch.tickets import Sink
from sitewatch.tickets.jira import JiraSink
from sitewatch.tickets.local import LocalSink
from sitewatch.tickets.redmine import RedmineSink
from sitewatch.tickets.rt import RtSink
from sitewatch.tickets.smtp import EmailSink
from sitewatch.tickets.webhook import WebhookSink

__all__ = ["build_sinks"]


def _fields(entry: SinkConfig, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A sink's settings as constructor keywords: the config fields and the parameters share names."""
    return entry.model_dump(exclude={"type", "name", "templates", *exclude})


def build_sinks(config: TicketsConfig, store: Store, session: aiohttp.ClientSession) -> dict[str, Sink]:
    """One sink object per configured entry, by name."""
    sinks: dict[str, Sink] = {}
    for entry in config.sinks:
        sink: Sink
        if isinstance(entry, LocalSinkConfig):
            sink = LocalSink(store)
        elif isinstance(entry, WebhookSinkConfig):
            sink = WebhookSink(entry.name, session, entry.url, entry.secret, dict(entry.headers))
        elif isinstance(entry, RedmineSinkConfig):
            sink = RedmineSink(entry.name, session, **_fields(entry))
        elif isinstance(entry, JiraSinkConfig):
            sink = JiraSink(entry.name, session, **_fields(entry))
        elif isinstance(entry, RtSinkConfig):
            sink = RtSink(entry.name, session, **_fields(entry))
        else:
            sink = EmailSink(entry.name, recipients=entry.to, **_fields(entry, exclude=frozenset({"to"})))
        sinks[entry.name] = sink
    return sinks
