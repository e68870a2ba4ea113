"""The agent's web side: the status page, who may open what, the Alertmanager bridge, the server.

Everything here reads the agent's *running* config at each request (``agent.config``), so a
reload changes pages, tokens and routing at once without rebuilding the application.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sitewatch.engine.scheduler import Scheduler
from sitewatch.limits import listener_cap
from sitewatch.logs import event
from sitewatch.probe import AdvisoryBook, Clock, Push
from sitewatch.reports.availability_cache import WINDOW_LABEL
from sitewatch.reports.history import site_availability
from sitewatch.web.access import Access
from sitewatch.web.alertmanager import AlertmanagerBridge
from sitewatch.web.auth import WebSecurity, load_web_config
from sitewatch.web.pings import PushRouter
from sitewatch.web.server import WebServer, build_app
from sitewatch.web.statuspage import StatusPage

if TYPE_CHECKING:
    from sitewatch.agent.core import Agent

__all__ = ["WebSide", "advisory_states", "build_web_side", "ping_router"]


@dataclass(frozen=True, slots=True)
class WebSide:
    """What the agent keeps of its web side: the page (closed at stop), the bridge and the server."""

    security: WebSecurity | None
    page: StatusPage
    alertmanager: AlertmanagerBridge | None
    server: WebServer


def build_web_side(agent: Agent) -> WebSide:
    """Build the page, the access rules, the bridge (if enabled) and the unstarted server for ``agent``."""
    config, log = agent.config, agent.log
    security = None
    if config.agent.web_config is not None:
        web_config = config.agent.web_config
        security = load_web_config(web_config if web_config.is_absolute() else config.source.parent / web_config)
    bridge = None
    if config.agent.alertmanager.enabled:
        bridge = AlertmanagerBridge(
            config.agent.alertmanager,
            agent.store,
            list(agent.sinks),
            log,
            tickets=lambda: agent.config.tickets,
            security=security,
            on_change=agent.deliverer.wake,
        )
    page = StatusPage(
        agent.store,
        lambda: agent.config.sites,
        site_availability,
        agent.clock.time,
        shared={WINDOW_LABEL: lambda: agent.availability.ratios},
        people=lambda: (agent.config.agent.language, agent.config.agent.timezone),
        network=agent.network_watch.document,
        clients=lambda: agent.config.client_book,
    )
    access = Access(
        security,
        lambda: agent.config.agent.operator_token,
        lambda: {c.name: c.token for c in agent.config.client_book.by_name.values() if c.token is not None},
    )
    app = build_app(
        agent.book,
        agent.exposition,
        agent.info(),
        agent.health,
        push=ping_router(agent.scheduler, agent.clock, log),
        security=security,
        page=page,
        alertmanager=bridge.handle if bridge else None,
        access=access,
        network=agent.network_watch.document,
    )
    host, port = config.agent.host_port
    listener = config.agent.listener
    server = WebServer(
        app,
        host,
        port,
        security.ssl_context if security else None,
        log=log,
        listener=listener,
        max_connections=listener_cap(listener.max_connections, config.agent.concurrency, log),
    )
    return WebSide(security, page, bridge, server)


def ping_router(scheduler: Scheduler, clock: Clock, log: logging.Logger) -> PushRouter:
    """``/ping/<token>``: deliver a heartbeat ping to the check whose token it carries; False for an unknown one."""

    def push(token: str, kind: str, body: str) -> bool:
        owner = None
        given = token.encode()
        for check in scheduler.checks():
            expected = check.push_token
            # Compare against every token, so timing says nothing about which prefix matched.
            if expected is not None and hmac.compare_digest(given, expected.encode()) and owner is None:
                owner = check
        if owner is None:
            event(log, logging.WARNING, "ping_unknown_token", kind=kind)
            return False
        owner.receive(Push(kind, clock.time(), body))  # type: ignore[arg-type]
        scheduler.trigger(owner)
        event(log, logging.INFO, "ping_received", site=owner.site.name, kind=kind, body_bytes=len(body))
        return True

    return push


def advisory_states(book: AdvisoryBook, now: float) -> dict[str, tuple[float | None, bool]]:
    """Per vulnerability source, for /metrics: the age of its snapshot (None before the first), and if it fails."""
    return {
        name: ((snap.age(now) if (snap := book.snapshots.get(name)) else None), state.problem is not None)
        for name, state in book.sources.items()
    }
