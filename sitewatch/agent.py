"""Wires the pieces together and owns their lifetime: start, reload (SIGHUP), stop (SIGTERM)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
import time
from collections import ChainMap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver

from sitewatch.config.loader import ConfigError, load_config
from sitewatch.config.models import CheckSpec, Config
from sitewatch.config.registry import load_checks
from sitewatch.config.shard import keep, sharded
from sitewatch.engine.reachability import ReachabilityMonitor
from sitewatch.engine.results import ResultBook, RunRecord, TicketStats
from sitewatch.engine.scheduler import Scheduler
from sitewatch.feeds import FeedRefresher
from sitewatch.incidents.network import NetworkIncident
from sitewatch.incidents.state import CheckState
from sitewatch.incidents.tracker import IncidentTracker, incident_key
from sitewatch.limits import listener_cap
from sitewatch.logs import event
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import AdvisoryBook, AnyCheck, Clock, Push, Status, SystemClock
from sitewatch.reports.availability_cache import WINDOW_LABEL, AvailabilityCache
from sitewatch.reports.history import site_availability
from sitewatch.runtime import collector_paused, freeze_long_lived
from sitewatch.sdnotify import Notifier
from sitewatch.store.database import Store
from sitewatch.store.life import life, open_incident_id
from sitewatch.store.silences import active as active_silences
from sitewatch.tickets import Sink
from sitewatch.tickets.factory import build_sink, build_sinks
from sitewatch.tickets.oncall import OnCall
from sitewatch.tickets.outbox import Deliverer
from sitewatch.tickets.readback import DeskReadBack, build_readers
from sitewatch.tickets.sla_watch import SlaWatch, run_sla
from sitewatch.web.access import Access
from sitewatch.web.alertmanager import AlertmanagerBridge
from sitewatch.web.auth import load_web_config
from sitewatch.web.exposition import Exposition
from sitewatch.web.metrics import SitewatchCollector, build_registry
from sitewatch.web.server import WebServer, build_app
from sitewatch.web.statuspage import StatusPage

__all__ = ["STALL_SECONDS", "Agent"]

#: A due check not started for this long means the scheduler is stuck: /healthz fails, the watchdog starves.
STALL_SECONDS = 30.0
HISTORY_FLUSH_SECONDS = 5.0
#: How often the 30-day availability behind sitewatch_availability_ratio is brought up to date.
AVAILABILITY_REFRESH_SECONDS = 60.0
#: How long a stopping agent lets ticket deliveries finish; far inside the unit's TimeoutStopSec=60s.
DELIVERY_GRACE = 5.0
_CLOSED = CheckState()


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
        self.availability = AvailabilityCache(config.agent.state_dir / "sitewatch.db")
        self.collector = SitewatchCollector(
            self.book,
            checks or load_checks(),
            log,
            availability=lambda: self.availability.ratios,
            sites=lambda: ((s.info.name, s.client, s.info.tags) for s in self.config.sites),
            sla=lambda: self.sla.snapshot(),  # noqa: PLW0108 - self.sla is made below, with the store
            advisory_sources=self._advisory_sources,
        )
        self.registry = build_registry(self.collector)
        self.exposition = Exposition(self.collector)
        self._stop = asyncio.Event()
        self._started = time.time()
        self.store = Store(config.agent.state_dir / "sitewatch.db")
        # Desks get their own session: the probe session has test resolvers and no keep-alive.
        self.desk_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        derived = config.client_book.derived_sinks()
        self.sinks: dict[str, Sink] = build_sinks(config.tickets, self.store, self.desk_session, derived)
        self.incidents = IncidentTracker(
            self.store,
            list(self.sinks),
            log,
            self._latest_status,
            config.tickets,
            timezone=config.agent.timezone,
            route=lambda spec: self.config.client_book.route(spec.client, spec.site.tags),
            life=self._life_so_far,
        )
        #: Deadlines settled as they pass (breach metrics) and desks read back (acks, waits).
        self.sla = SlaWatch(self.store, log)
        self.readback = DeskReadBack(
            self.store, build_readers((*config.tickets.sinks, *derived), self.desk_session), log
        )
        self._sla_task: asyncio.Task[None] | None = None
        self._templates = {
            s.name: {str(k): v for k, v in s.templates.items()}
            for s in (*config.tickets.sinks, *derived)
            if s.templates
        }
        # Escalation targets (Telegram chats, a manager's mail) and the escalator: docs/escalation.md.
        self.oncall = OnCall(
            lambda: self.config,
            self.store,
            self.desk_session,
            self.clock,
            log,
            wake=lambda: self.deliverer.wake(),  # noqa: PLW0108 - built just below
        )
        outbox_targets = ChainMap(self.sinks, self.oncall.notifiers)  # live: reloads add client sinks
        self.deliverer = Deliverer(self.store, outbox_targets, log, templates=self._templates)
        self.book.ticket_stats = self._ticket_stats
        self.book.silences = lambda: [s.as_dict() for s in active_silences(self.store, time.time())]
        self._specs: dict[tuple[str, str], CheckSpec] = {}
        self._deliver_task: asyncio.Task[None] | None = None
        self._history: list[tuple[str, str, float, str, float]] = []
        self._history_task: asyncio.Task[None] | None = None
        self._availability_task: asyncio.Task[None] | None = None
        self.session = make_session(self.resolver, user_agent=config.agent.user_agent)
        # The agent's own network (agent.reference_targets): one incident instead of one per site.
        # The team's own problem, not a client's: the default client's sinks and terms.
        team = config.client_book.route(None, ())
        self.network = NetworkIncident(self.store, team.sinks, log, terms=team, timezone=team.timezone)
        self.reachability: ReachabilityMonitor | None = None
        self._network_task: asyncio.Task[None] | None = None
        if config.agent.reference_targets:
            self.reachability = ReachabilityMonitor(
                config.agent.reference_targets, config.agent.reference_timeout, self.session, self.resolver, self.clock
            )
            self.incidents.network_down = lambda: self.network.holding
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
        self._feeds_task: asyncio.Task[None] | None = None
        self.scheduler = Scheduler(
            session=self.session,
            resolver=self.resolver,
            clock=self.clock,
            concurrency=config.agent.concurrency,
            per_host=config.agent.per_host_concurrency,
            slack=config.agent.timer_slack,
            on_result=self._on_result,
            lag=self.book.lag,
            log=log,
            advisories=self.advisories,
        )
        host, port = config.agent.host_port
        security = None
        if config.agent.web_config is not None:
            web_config = config.agent.web_config
            security = load_web_config(web_config if web_config.is_absolute() else config.source.parent / web_config)
        self.alertmanager: AlertmanagerBridge | None = None
        if config.agent.alertmanager.enabled:
            self.alertmanager = AlertmanagerBridge(
                config.agent.alertmanager,
                self.store,
                list(self.sinks),
                log,
                tickets=lambda: self.config.tickets,
                security=security,
                on_change=self.deliverer.wake,
            )
        # The page reads self.config at each request, so a reload shows at once.
        self.page = StatusPage(
            self.store,
            lambda: self.config.sites,
            site_availability,
            self.clock.time,
            shared={WINDOW_LABEL: lambda: self.availability.ratios},
            people=lambda: (self.config.agent.language, self.config.agent.timezone),
            network=self.network_document,
            clients=lambda: self.config.client_book,
        )
        # Tokens are read from the running config at each request: a reload changes them at once.
        access = Access(
            security,
            lambda: self.config.agent.operator_token,
            lambda: {c.name: c.token for c in self.config.client_book.by_name.values() if c.token is not None},
        )
        app = build_app(
            self.book,
            self.exposition,
            self._info(),
            self._health,
            push=self._push,
            security=security,
            page=self.page,
            alertmanager=self.alertmanager.handle if self.alertmanager else None,
            access=access,
            network=self.network_document,
        )
        listener = config.agent.listener
        self.web = WebServer(
            app,
            host,
            port,
            security.ssl_context if security else None,
            log=log,
            listener=listener,
            max_connections=listener_cap(listener.max_connections, config.agent.concurrency, log),
        )
        self._loop_task: asyncio.Task[None] | None = None
        self._watchdog_task: asyncio.Task[None] | None = None
        self.notifier = notifier or Notifier()
        self.book.reload_success_at = self.clock.time()

    def _advisory_sources(self) -> dict[str, tuple[float | None, bool]]:
        """Per vulnerability source: the age of its snapshot (None before the first) and whether it is failing."""
        now = self.clock.time()
        book = self.advisories
        return {
            name: ((snap.age(now) if (snap := book.snapshots.get(name)) else None), state.problem is not None)
            for name, state in book.sources.items()
        }

    def _info(self) -> dict[str, Any]:
        return {"config": str(self.config.source), "started": self._started}

    def _health(self) -> tuple[bool, str]:
        if self._loop_task is None or self._loop_task.done():
            return False, "scheduler is not running"
        overdue = self.scheduler.overdue()
        if overdue > STALL_SECONDS:
            return False, f"scheduler stalled: a due check has waited {overdue:.0f}s to start"
        return True, f"{len(self.book.configured)} checks scheduled, {self.scheduler.in_flight} running"

    def network_document(self) -> dict[str, Any] | None:
        """``/healthz``'s ``network``: reference results, state and since, held failures (None: no references)."""
        if self.reachability is None:
            return None
        held = self._unconfirmed() if self.network.holding else []
        return {
            **self.network.latest.as_dict(),
            "incident_open": self.network.state.open,
            "unconfirmed": len(held),
        }

    def _unconfirmed(self) -> list[str]:
        """Checks failing now with no incident of their own: while the network is in doubt, unconfirmed."""
        return [
            f"{site}/{check}"
            for (site, check), record in sorted(self.book.latest.items())
            if record.result.status in (Status.CRITICAL, Status.ERROR)
            and not self.incidents.states.get(incident_key(site, check), _CLOSED).open
        ]

    async def _watch_network(self, monitor: ReachabilityMonitor) -> None:
        """Probe the reference targets every ``reference_interval``; feed each round to the network incident."""
        while True:
            try:
                reach = await monitor.probe()
                failing = self._unconfirmed() if reach.state == "offline" or self.network.state.open else []
                if self.network.observe(reach, failing):
                    self.deliverer.wake()
            except Exception as exc:  # a bug here must not end the watch (the scheduler's boundary, again)
                event(self.log, logging.ERROR, "network_watch_failed", error=f"{type(exc).__name__}: {exc}")
                self.log.debug("network watch traceback", exc_info=True)
            await asyncio.sleep(self.config.agent.reference_interval)

    def status_line(self) -> str:
        """One line for `systemctl status`: sites, failing checks, config state."""
        failing = sum(not r.result.ok for r in self.book.latest.values())
        pending = self.store.outbox_stats(self.clock.time())["pending"]
        line = (
            f"{len(self.config.sites)} sites, {len(self.book.configured)} checks, {failing} failing,"
            f" {pending:.0f} tickets pending"
        )
        return line if self.book.reload_ok else line + "; last reload FAILED (see log)"

    async def _watchdog(self, interval: float) -> None:
        """Ping systemd's watchdog only while the scheduler makes progress."""
        last_status = ""
        while True:
            healthy, reason = self._health()
            if healthy:
                self.notifier.watchdog()
            else:
                event(self.log, logging.ERROR, "watchdog_withheld", reason=reason)
            status = self.status_line()
            if status != last_status:
                self.notifier.status(status)
                last_status = status
            await asyncio.sleep(interval)

    def _push(self, token: str, kind: str, body: str) -> bool:
        owner = None
        given = token.encode()
        for check in self.scheduler.checks():
            expected = check.push_token
            # Compare against every token, so timing says nothing about which prefix matched.
            if expected is not None and hmac.compare_digest(given, expected.encode()) and owner is None:
                owner = check
        if owner is None:
            event(self.log, logging.WARNING, "ping_unknown_token", kind=kind)
            return False
        owner.receive(Push(kind, self.clock.time(), body))  # type: ignore[arg-type]
        self.scheduler.trigger(owner)
        event(self.log, logging.INFO, "ping_received", site=owner.site.name, kind=kind, body_bytes=len(body))
        return True

    def flush_history(self) -> None:
        """Write buffered results: one transaction per few seconds instead of one per run."""
        rows, self._history = self._history, []
        if rows:
            self.store.append_history(rows)

    async def _keep_history(self) -> None:
        last_prune = 0.0
        while True:
            await asyncio.sleep(HISTORY_FLUSH_SECONDS)
            self.flush_history()
            now = self.clock.time()
            if now - last_prune > 3600:
                self.store.prune_history(now - self.config.agent.history_retention)
                last_prune = now

    async def _keep_availability(self) -> None:
        """Refresh the availability cache once a minute, in worker-thread batches (SQLite and arithmetic block)."""
        failing = False
        while True:
            try:
                await self.availability.refresh_in_batches(self.config.sites, self.clock.time())
            except Exception as exc:  # a store or arithmetic bug must not end the refreshes for good
                if not failing:  # say it once (with the traceback), and once when it works again
                    event(self.log, logging.ERROR, "availability_refresh_failed", error=f"{type(exc).__name__}: {exc}")
                    self.log.debug("availability refresh traceback", exc_info=True)
                failing = True
            else:
                if failing:
                    event(self.log, logging.INFO, "availability_refresh_recovered")
                failing = False
            await asyncio.sleep(AVAILABILITY_REFRESH_SECONDS)

    def _life_so_far(self, key: str) -> tuple[float | None, tuple[tuple[float, float | None], ...]]:
        """The open incident's ack time and pauses, for deadlines moved by a priority change."""
        incident = open_incident_id(self.store, key)
        if incident is None:
            return None, ()
        lived = life(self.store, incident)
        return lived.acked_at, lived.pauses

    def _latest_status(self, site: str, check: str) -> Status | None:
        record = self.book.latest.get((site, check))
        return record.result.status if record else None

    def _ticket_stats(self) -> TicketStats:
        stats = self.store.outbox_stats(self.clock.time())
        return TicketStats(
            # From the store: Alertmanager's incidents never pass through the check state machine.
            open_incidents=len(self.store.open_incidents()),
            outbox_pending=int(stats["pending"]),
            outbox_dead=int(stats["dead"]),
            oldest_pending_age=stats["oldest_pending_age"],
            deliveries=dict(self.deliverer.delivered),
            dead_letters=tuple(self.store.dead_letters()) if stats["dead"] else (),
        )

    def _on_result(self, record: RunRecord) -> None:
        previous = self.book.latest.get(record.key)
        self.book.record(record)
        self._history.append((record.site, record.check, record.started, record.result.status.value, record.duration))
        spec = self._specs.get(record.key)
        if spec is not None and self.incidents.observe(spec, record):
            self.deliverer.wake()
        # Log transitions only, so a steady failure is one line, not one per run.
        if previous is None or previous.result.status != record.result.status:
            level = logging.INFO if record.result.ok else logging.WARNING
            event(
                self.log,
                level,
                "check_status",
                site=record.site,
                check=record.check,
                status=record.result.status.value,
                previous=previous.result.status.value if previous else "none",
                summary=record.result.summary,
            )

    async def start(self) -> None:
        """Bind the web server and start scheduling."""
        self._apply(self.config)
        await self.web.start()
        self._loop_task = asyncio.create_task(self.scheduler.run(), name="scheduler")
        self._deliver_task = asyncio.create_task(self.deliverer.run(), name="ticket delivery")
        self._history_task = asyncio.create_task(self._keep_history(), name="history")
        self._availability_task = asyncio.create_task(self._keep_availability(), name="availability")
        self._sla_task = asyncio.create_task(run_sla(self.sla, self.readback, self.clock.time, self.log), name="sla")
        self.oncall.start()
        if self.reachability is not None:
            self._network_task = asyncio.create_task(self._watch_network(self.reachability), name="network")
        if self.config.vulnerabilities.sources:
            self._feeds_task = asyncio.create_task(self._keep_feeds(), name="advisory feeds")
        # Half the watchdog period, as systemd recommends; a status refresh even without one.
        period = self.notifier.watchdog_interval / 2 if self.notifier.watchdog_interval else 10.0
        self._watchdog_task = asyncio.create_task(self._watchdog(period), name="watchdog")
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

    async def _keep_feeds(self) -> None:
        """Refresh the advisory snapshots; a bug in one pass is logged and the next pass still runs."""
        while True:
            try:
                await self.feeds.run()
            except Exception as exc:  # a parser or disk bug must not end the refreshes for good
                event(self.log, logging.ERROR, "advisories_task_failed", error=f"{type(exc).__name__}: {exc}")
                self.log.debug("advisories task traceback", exc_info=True)
            await asyncio.sleep(AVAILABILITY_REFRESH_SECONDS)

    def _apply(self, config: Config) -> None:
        self.feeds.configure(config.vulnerabilities)
        self._specs = {c.key: c for c in config.checks}
        self.incidents.forget_except({incident_key(*k) for k in self._specs})
        self.incidents.depend(config.checks)
        self.incidents.reconfigure(config.tickets, config.agent.timezone)
        team = config.client_book.route(None, ())
        self.network.reconfigure(team, team.timezone, team.sinks)
        self._add_client_sinks(config)
        self.readback.watched = build_readers(
            (*config.tickets.sinks, *config.client_book.derived_sinks()), self.desk_session
        )
        self.book.configure((c.key, c.type) for c in config.checks)
        self.scheduler.apply(config.checks)
        if self._freeze_gc:
            freeze_long_lived()

    def _add_client_sinks(self, config: Config) -> None:
        """Sinks a reload's client routing names that are new; none is removed, so an open ticket can still resolve."""
        for entry in config.client_book.derived_sinks():
            if entry.name not in self.sinks:
                self.sinks[entry.name] = build_sink(entry, self.store, self.desk_session)
                if entry.templates:
                    self._templates[entry.name] = {str(k): v for k, v in entry.templates.items()}

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
        if self.config.vulnerabilities.sources and self._feeds_task is None and self._loop_task is not None:
            self._feeds_task = asyncio.create_task(self._keep_feeds(), name="advisory feeds")
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
        loop = asyncio.get_running_loop()
        await self.start()
        installed = []
        for sig, handler in (
            (signal.SIGTERM, self.request_stop),
            (signal.SIGINT, self.request_stop),
            (signal.SIGHUP, self.reload),
        ):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, handler)
                installed.append(sig)
        try:
            await self._stop.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            await self.close()

    async def close(self) -> None:
        """Stop scheduling, let runs finish within the longest timeout, then close everything."""
        grace = max((c.timeout for c in self.config.checks), default=1.0)
        event(self.log, logging.INFO, "agent_stopping", in_flight=self.scheduler.in_flight, grace_seconds=grace)
        self.notifier.stopping()
        if self._watchdog_task is not None:
            self._watchdog_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog_task
        if self._network_task is not None:
            self._network_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._network_task
        await self.scheduler.stop(grace)
        await self.oncall.close()  # no step fires once stopping; queued ones stay in the outbox
        if self._loop_task is not None:
            await self._loop_task
        if self._availability_task is not None:
            # A refresh already in its thread finishes the site it is on, then gives up.
            self.availability.stop()
            self._availability_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._availability_task
        if self._sla_task is not None:
            self._sla_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sla_task
        if self._feeds_task is not None:
            self._feeds_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feeds_task
        await self.feeds.close()
        if self._history_task is not None:
            self._history_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._history_task
        self.flush_history()
        if self._deliver_task is not None:
            # The worker finishes its current row and makes one last pass; what is not done by
            # the deadline stays in the outbox (a cancelled open is settled by find_open on retry).
            self.deliverer.finish()
            done, _ = await asyncio.wait({self._deliver_task}, timeout=DELIVERY_GRACE)
            if not done:
                self._deliver_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deliver_task
        await self.web.close()
        await self.session.close()
        await self.desk_session.close()
        await self.resolver.close()
        self.page.close()
        self.store.close()
        event(self.log, logging.INFO, "agent_stopped")
