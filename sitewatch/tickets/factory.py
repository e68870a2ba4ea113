"""Builds the configured sinks."""

from __future__ import annotations

import aiohttp

from sitewatch.store import Store
from sitewatch.tickets import Sink
from sitewatch.tickets.jira import JiraSink
from sitewatch.tickets.local import LocalSink
from sitewatch.tickets.redmine import RedmineSink
from sitewatch.tickets.rt import RtSink
from sitewatch.tickets.settings import (
    EmailSinkConfig,
    JiraSinkConfig,
    LocalSinkConfig,
    RedmineSinkConfig,
    RtSinkConfig,
    TicketsConfig,
    WebhookSinkConfig,
)
from sitewatch.tickets.smtp import EmailSink
from sitewatch.tickets.webhook import WebhookSink

__all__ = ["build_sinks"]


def build_sinks(config: TicketsConfig, store: Store, session: aiohttp.ClientSession) -> dict[str, Sink]:
    """One sink object per configured entry, by name."""
    sinks: dict[str, Sink] = {}
    for entry in config.sinks:
        if isinstance(entry, LocalSinkConfig):
            sinks[entry.name] = LocalSink(store)
        elif isinstance(entry, WebhookSinkConfig):
            sinks[entry.name] = WebhookSink(entry.name, session, entry.url, entry.secret, dict(entry.headers))
        elif isinstance(entry, RedmineSinkConfig):
            sinks[entry.name] = RedmineSink(
                entry.name,
                session,
                url=entry.url,
                api_key=entry.api_key,
                project=entry.project,
                tracker_id=entry.tracker_id,
                key_field_id=entry.key_field_id,
                closed_status_id=entry.closed_status_id,
                priority_ids={str(k): v for k, v in entry.priority_ids.items()},
            )
        elif isinstance(entry, JiraSinkConfig):
            sinks[entry.name] = JiraSink(
                entry.name,
                session,
                url=entry.url,
                project=entry.project,
                issue_type=entry.issue_type,
                resolve_transition=entry.resolve_transition,
                priority_names={str(k): v for k, v in entry.priority_names.items()},
                email=entry.email,
                api_token=entry.api_token,
                pat=entry.pat,
            )
        elif isinstance(entry, RtSinkConfig):
            sinks[entry.name] = RtSink(
                entry.name,
                session,
                url=entry.url,
                queue=entry.queue,
                key_field=entry.key_field,
                priorities={str(k): v for k, v in entry.priorities.items()},
                username=entry.username,
                password=entry.password,
                token=entry.token,
            )
        elif isinstance(entry, EmailSinkConfig):
            sinks[entry.name] = EmailSink(
                entry.name,
                host=entry.host,
                port=entry.port,
                starttls=entry.starttls,
                username=entry.username,
                password=entry.password,
                sender=entry.sender,
                recipients=entry.to,
                ca_file=entry.ca_file,
                timeout=entry.timeout,
            )
    return sinks
