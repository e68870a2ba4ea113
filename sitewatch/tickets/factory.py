"""Builds the configured sinks."""

from __future__ import annotations

from collections.abc import Iterable
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

__all__ = ["build_sink", "build_sinks"]


def _fields(entry: SinkConfig, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A sink's settings as constructor keywords: the config fields and the parameters share names."""
    return entry.model_dump(exclude={"type", "name", "templates", "status_map", "read_every", *exclude})


def build_sinks(
    config: TicketsConfig, store: Store, session: aiohttp.ClientSession, extra: Iterable[SinkConfig] = ()
) -> dict[str, Sink]:
    """One sink object per configured entry, by name; ``extra`` are the clients' copies (``redmine@acme``)."""
    return {entry.name: build_sink(entry, store, session) for entry in (*config.sinks, *extra)}


def build_sink(entry: SinkConfig, store: Store, session: aiohttp.ClientSession) -> Sink:
    """The sink object of one configured entry."""
    if isinstance(entry, LocalSinkConfig):
        return LocalSink(store)
    if isinstance(entry, WebhookSinkConfig):
        return WebhookSink(entry.name, session, entry.url, entry.secret, dict(entry.headers))
    if isinstance(entry, RedmineSinkConfig):
        return RedmineSink(entry.name, session, **_fields(entry))
    if isinstance(entry, JiraSinkConfig):
        return JiraSink(entry.name, session, **_fields(entry))
    if isinstance(entry, RtSinkConfig):
        return RtSink(entry.name, session, **_fields(entry))
    return EmailSink(entry.name, recipients=entry.to, **_fields(entry, exclude=frozenset({"to"})))
