"""Wires the pieces together and owns their lifetime: start, reload (SIGHUP), stop (SIGTERM).

The web side is built in :mod:`sitewatch.agent.webside`, the periodic loops live in
:mod:`sitewatch.agent.loops`, the watch over the agent's own network in :mod:`sitewatch.agent.network`
and the signals and the fixed shutdown order in :mod:`sitewatch.agent.shutdown`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any

from aiohttp.abc import AbstractResolver

from sitewatch.agent.intake import ResultIntake
from sitewatch.agent.loops import keep_availability, keep_feeds, keep_history, watchdog
from sitewatch.agent.network import NetworkWatch
from sitewatch.agent.shutdown import serve_until_stopped, shut_down
from sitewatch.agent.ticketside import TicketSide
from sitewatch.agent.webside import advisory_states, build_web_side
from sitewatch.config.loader import ConfigError, load_config
from sitewatch.config.maintenance import MaintenanceWindow, in_force
from sitewatch.config.registry import load_checks
from sitewatch.config.shard import keep, sharded
from sitewatch.config.specs import Config
from sitewatch.engine.results import ResultBook
from sitewatch.engine.scheduler import Scheduler
from sitewatch.feeds import FeedRefresher
from sitewatch.incidents.tracker import incident_key
from sitewatch.logs import event
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import AdvisoryBook, AnyCheck, Clock, SystemClock
from sitewatch.reports.availability_cache import AvailabilityCache
from sitewatch.runtime import collector_paused, freeze_long_lived
from sitewatch.sdnotify import Notifier
from sitewatch.store.database import Store
from sitewatch.store.silences import active as active_silences
from sitewatch.tickets.sla_watch import run_sla
from sitewatch.web.exposition import Exposition
from sitewatch.web.metrics import SitewatchCollector
from sitewatch.web.registry import build_registry

__all__ = ["STALL_SECONDS", "Agent"]

#: A due check not started for this long means the scheduler is stuck: /healthz fails, the watchdog starves.
STALL_SECONDS = 30.0


class Agent:
    """One running agent: a config, a scheduler, a result book and a web server."""

    def __init__(
        self,
        config: Config,
        log: logging.Logger,
        *,
        resolver: AbstractResolver | None = None,
        clock: Clock | None = None,
        checks: Mapping[str, type[AnyCheck]] | None = None,
        notifier: Notifier | None = None,
        freeze_gc: bool = False,
    ) -> None:
        self.config = sharded(config, config.agent.shard)  # this agent's share of the sites
        self._freeze_gc = freeze_gc
        self.log = log
        self.clock = clock or SystemClock()
        self.resolver = resolver or ProbeResolver()
        self.book = ResultBook()
        #: (site, client, tags) per site for sitewatch_site_info: one tuple per (re)load, so the
        #: collector renders its lines once per config, not once per scrape.
        self._site_labels = _site_labels(self.config)
        self.availability = AvailabilityCache(config.agent.state_dir / "sitewatch.db")
        self.collector = SitewatchCollector(
            self.book,
            checks or load_checks(),
            log,
            availability=lambda: self.availability.ratios,
            sites=lambda: self._site_labels,
            sla=lambda: self.sla.snapshot(),  # noqa: PLW0108 - self.sla is made below, with the store
            advisory_sources=lambda: advisory_states(self.advisories, self.clock.time()),
        )
        self.registry = build_registry(self.collector)
        self.exposition = Exposition(self.collector)
        self._stop = asyncio.Event()
        self._started = time.time()
        self.store = Store(config.agent.state_dir / "sitewatch.db")
        self.intake = ResultIntake(self.book, self.store, log)
        self.ticketing = TicketSide(lambda: self.config, self.store, log, self.clock, self.intake.latest_status)
        self.desk_session, self.sinks = self.ticketing.session, self.ticketing.sinks
        self.incidents, self.sla, self.readback = self.ticketing.incidents, self.ticketing.sla, self.ticketing.readback
        self.oncall, self.deliverer = self.ticketing.oncall, self.ticketing.deliverer
        self.book.ticket_stats = lambda: self.ticketing.stats(self.clock.time())
        self.book.silences = lambda: [s.as_dict() for s in active_silences(self.store, time.time())]
        self.book.maintenance = lambda: in_force(_windows_by_site(self.config), time.time())
        self.intake.incidents, self.intake.wake = self.incidents, self.deliverer.wake
        self._deliver_task: asyncio.Task[None] | None = None
        self.session = make_session(self.resolver, user_agent=config.agent.user_agent)
        # The agent's own network (agent.reference_targets): one incident instead of one per site.
        self.network_watch = NetworkWatch(
            config,
            self.store,
            log,
            session=self.session,
            resolver=self.resolver,
            clock=self.clock,
            book=self.book,
            incidents=self.incidents,
        )
        self.network = self.network_watch.incident
        # Checks read the advisory snapshots; this task alone downloads them (never during a check).
        self.advisories = AdvisoryBook()
        self.feeds = FeedRefresher(
            self.advisories,
            log,
            self.clock,
            config.agent.state_dir / "vulnerabilities",
            # A full snapshot is ~200,000 objects: out of the collector's passes, as the config is.
            on_publish=freeze_long_lived if freeze_gc else None,
        )
        self.scheduler = Scheduler(
            session=self.session,
            resolver=self.resolver,
            clock=self.clock,
            concurrency=config.agent.concurrency,
            per_host=config.agent.per_host_concurrency,
            slack=config.agent.timer_slack,
            on_result=self.intake.on_result,
            lag=self.book.lag,
            log=log,
            advisories=self.advisories,
        )
        side = build_web_side(self)
        self.alertmanager = side.alertmanager
        self.page = side.page  # it reads self.config at each request, so a reload shows at once
        self.web = side.server
        self._loop_task: asyncio.Task[None] | None = None
        #: The background loops by name (history, availability, sla, network, advisory feeds, watchdog).
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.notifier = notifier or Notifier()
        self.book.reload_success_at = self.clock.time()

    def info(self) -> dict[str, Any]:
        """``/api/status``'s ``agent``: the config file and the start time."""
        return {"config": str(self.config.source), "started": self._started}

    def health(self) -> tuple[bool, str]:
        """``/healthz`` and the watchdog: healthy while the scheduler runs and starts due checks in time."""
        if self._loop_task is None or self._loop_task.done():
            return False, "scheduler is not running"
        overdue = self.scheduler.overdue()
        if overdue > STALL_SECONDS:
            return False, f"scheduler stalled: a due check has waited {overdue:.0f}s to start"
        return True, f"{len(self.book.configured)} checks scheduled, {self.scheduler.in_flight} running"

    def status_line(self) -> str:
        """One line for `systemctl status`: sites, failing checks, config state."""
        failing = sum(not r.result.ok for r in self.book.latest.values())
        pending = self.store.outbox_stats(self.clock.time())["pending"]
        line = (
            f"{len(self.config.sites)} sites, {len(self.book.configured)} checks, {failing} failing,"
            f" {pending:.0f} tickets pending"
        )
        return line if self.book.reload_ok else line + "; last reload FAILED (see log)"

    def flush_history(self) -> None:
        """Write the buffered results now (the history loop does it every few seconds)."""
        self.intake.flush_history()

    def _spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> None:
        self._tasks[name] = asyncio.create_task(coro, name=name)

    async def start(self) -> None:
        """Bind the web server and start scheduling."""
        self._apply(self.config)
        await self.web.start()
        self._loop_task = asyncio.create_task(self.scheduler.run(), name="scheduler")
        self._deliver_task = asyncio.create_task(self.deliverer.run(), name="ticket delivery")
        retention = lambda: self.config.agent.history_retention  # noqa: E731 - read at each prune: reloads count
        self._spawn(keep_history(self.flush_history, self.store.prune_history, self.clock, retention), name="history")
        self._spawn(
            keep_availability(self.availability, lambda: self.config.sites, self.clock, self.log), name="availability"
        )
        self._spawn(run_sla(self.sla, self.readback, self.clock.time, self.log), name="sla")
        self.oncall.start()
        if self.network_watch.monitor is not None:
            interval = lambda: self.config.agent.reference_interval  # noqa: E731 - read at each round
            watch = self.network_watch.watch(interval, self.deliverer.wake)
            self._spawn(watch, name="network")
        if self.config.vulnerabilities.sources:
            self._spawn(keep_feeds(self.feeds, self.log), name="advisory feeds")
        # Half the watchdog period, as systemd recommends; a status refresh even without one.
        period = self.notifier.watchdog_interval / 2 if self.notifier.watchdog_interval else 10.0
        self._spawn(watchdog(self.health, self.status_line, self.notifier, period, self.log), name="watchdog")
        self.notifier.ready(self.status_line())
        event(
            self.log,
            logging.INFO,
            "agent_started",
            listen=",".join(self.web.bound),
            sites=len(self.config.sites),
            checks=len(self.config.checks),
            config=str(self.config.source),
            loop=type(asyncio.get_running_loop()).__module__.split(".")[0],  # asyncio or uvloop
        )

    def _apply(self, config: Config) -> None:
        self._site_labels = _site_labels(config)
        self.feeds.configure(config.vulnerabilities)
        self.intake.specs = {c.key: c for c in config.checks}
        self.incidents.forget_except({incident_key(*k) for k in self.intake.specs})
        self.incidents.depend(config.checks)
        self.ticketing.apply(config)
        self.network_watch.reconfigure(config)
        self.book.configure((c.key, c.type) for c in config.checks)
        self.scheduler.apply(config.checks)
        if self._freeze_gc:
            freeze_long_lived()

    def reload(self, path: Path | None = None) -> bool:
        """Re-read the config; on error keep the running one and say why."""
        with collector_paused(self._freeze_gc):
            return self._reload(path)

    def _reload(self, path: Path | None) -> bool:
        source = path or self.config.source
        self.notifier.reloading()
        try:
            # Sites and checks equal to the running ones are the running objects (one copy in memory).
            new = load_config(source, previous=self.config)
        except ConfigError as exc:
            event(self.log, logging.ERROR, "reload_failed", config=str(source), errors=len(exc.problems))
            for problem in exc.problems:
                event(self.log, logging.ERROR, "config_error", problem=str(problem))
            self.book.reload_ok = False
            self.notifier.ready(self.status_line())
            return False
        for warning in new.warnings:
            event(self.log, logging.WARNING, "config_warning", problem=str(warning))
        # `run --shard I/N` may differ from the file's agent.shard: that alone is no change.
        if new.agent.model_copy(update={"shard": self.config.agent.shard}) != self.config.agent:
            event(self.log, logging.WARNING, "reload_agent_section_ignored", reason="agent: changes need a restart")
        sites = keep(new.sites, self.config.agent.shard)
        agent, advisories = self.config.agent, new.vulnerabilities
        self.config = Config(
            new.source, agent, new.defaults, new.tickets, sites, new.clients, vulnerabilities=advisories
        )
        self._apply(self.config)
        self.oncall.reconfigure(new)
        if self.config.vulnerabilities.sources and "advisory feeds" not in self._tasks and self._loop_task is not None:
            self._spawn(keep_feeds(self.feeds, self.log), name="advisory feeds")
        self.book.reload_ok = True
        self.book.reload_success_at = self.clock.time()
        self.notifier.ready(self.status_line())
        event(self.log, logging.INFO, "reloaded", sites=len(new.sites), checks=len(new.checks))
        return True

    def request_stop(self) -> None:
        """Ask :meth:`serve` to return (signal-safe)."""
        self._stop.set()

    async def serve(self) -> None:
        """Run until SIGTERM/SIGINT; SIGHUP reloads. Shuts down in a fixed order."""
        await serve_until_stopped(self, self._stop)

    async def close(self) -> None:
        """Stop scheduling, let runs finish within the longest timeout, then close everything."""
        await shut_down(self, self._tasks, self._loop_task, self._deliver_task)


def _site_labels(config: Config) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return tuple((s.info.name, s.client, s.info.tags) for s in config.sites)


def _windows_by_site(config: Config) -> Iterator[tuple[str, Iterator[MaintenanceWindow]]]:
    """Each site's name with its checks' maintenance windows (duplicates are dropped by ``in_force``)."""
    for site in config.sites:
        yield site.info.name, (w for check in site.checks for w in check.maintenance)
