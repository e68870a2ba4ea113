"""The agent's own network (``agent.reference_targets``): one incident instead of one per site.

The reference targets are probed every ``reference_interval``; while all of them fail, site
failures are held as unconfirmed and one "agent cannot reach the network" incident opens, with
the default client's sinks and terms (the team's own problem, not a client's).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver

from sitewatch.config.specs import Config
from sitewatch.engine.reachability import ReachabilityMonitor
from sitewatch.engine.results import ResultBook
from sitewatch.incidents.network import NetworkIncident
from sitewatch.incidents.state import CheckState
from sitewatch.incidents.tracker import IncidentTracker, incident_key
from sitewatch.logs import event
from sitewatch.probe import Clock, Status
from sitewatch.store.database import Store

__all__ = ["NetworkWatch"]

_CLOSED = CheckState()


class NetworkWatch:
    """The reference probes, the network incident and what ``/healthz`` says about them."""

    def __init__(
        self,
        config: Config,
        store: Store,
        log: logging.Logger,
        *,
        session: aiohttp.ClientSession,
        resolver: AbstractResolver,
        clock: Clock,
        book: ResultBook,
        incidents: IncidentTracker,
    ) -> None:
        self._log = log
        self._book = book
        self._incidents = incidents
        team = config.client_book.route(None, ())
        self.incident = NetworkIncident(store, team.sinks, log, terms=team, timezone=team.timezone)
        self.monitor: ReachabilityMonitor | None = None
        if config.agent.reference_targets:
            agent = config.agent
            self.monitor = ReachabilityMonitor(
                agent.reference_targets, agent.reference_timeout, session, resolver, clock
            )
            incidents.network_down = lambda: self.incident.holding

    def reconfigure(self, config: Config) -> None:
        """A reload: the default client's sinks and terms may have changed."""
        team = config.client_book.route(None, ())
        self.incident.reconfigure(team, team.timezone, team.sinks)

    def document(self) -> dict[str, Any] | None:
        """``/healthz``'s ``network``: reference results, state and since, held failures (None: no references)."""
        if self.monitor is None:
            return None
        held = self._unconfirmed() if self.incident.holding else []
        return {**self.incident.latest.as_dict(), "incident_open": self.incident.state.open, "unconfirmed": len(held)}

    def _unconfirmed(self) -> list[str]:
        """Checks failing now with no incident of their own: while the network is in doubt, unconfirmed."""
        return [
            f"{site}/{check}"
            for (site, check), record in sorted(self._book.latest.items())
            if record.result.status in (Status.CRITICAL, Status.ERROR)
            and not self._incidents.states.get(incident_key(site, check), _CLOSED).open
        ]

    async def watch(self, interval: Callable[[], float], wake: Callable[[], None]) -> None:
        """Probe the reference targets every ``interval()`` seconds; feed each round to the incident."""
        assert self.monitor is not None
        while True:
            try:
                reach = await self.monitor.probe()
                failing = self._unconfirmed() if reach.state == "offline" or self.incident.state.open else []
                if self.incident.observe(reach, failing):
                    wake()
            except Exception as exc:  # a bug here must not end the watch (the scheduler's boundary, again)
                event(self._log, logging.ERROR, "network_watch_failed", error=f"{type(exc).__name__}: {exc}")
                self._log.debug("network watch traceback", exc_info=True)
            await asyncio.sleep(interval())
