"""``domain`` check: when the site's domain registration expires, and whether the registry holds it.

Where to ask: RDAP through the IANA bootstrap (RFC 9224; a copy ships with sitewatch,
refreshed from ``rdap_bootstrap_url`` when set), else WHOIS on TCP 43 for the TLDs
RDAP lacks (``.ru``, ``.su``, ``.рф``). Which domain: the site's registrable domain
by the Public Suffix List's ICANN section (``shop.example.co.uk`` → ``example.co.uk``).
How often: at most once per ``refresh`` per domain, remembered on disk; a failure
waits ``retry`` or the server's ``Retry-After``, and reports ``error`` meanwhile.
Nothing is asked at config load.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import idna
from publicsuffixlist import PublicSuffixList

from checks import domain_cache
from checks.domain_cache import Entry
from checks.domain_config import DomainConfig, a_label, default_cache_dir, status_key
from checks.domain_rdap import (
    Failure,
    Registration,
    find_service,
    load_bootstrap,
    parse_bootstrap,
    query_rdap,
    read_capped,
)
from checks.domain_whois import WHOIS_SERVERS, query_whois
from sitewatch.probe import (
    Check,
    Context,
    MetricSpec,
    Result,
    Sample,
    SiteInfo,
    Status,
    Thresholds,
    format_duration,
    worst,
)

__all__ = ["DomainCheck"]

_DAY = 86400.0
#: Bootstrap tables by URL (the shipped one under ""), with when they were fetched.
_BOOTSTRAPS: dict[str, tuple[float, dict[str, list[str]]]] = {}


@functools.cache
def _psl() -> PublicSuffixList:
    # The list ships inside the package (no network); only ICANN suffixes: x.github.io is not registered.
    return PublicSuffixList(only_icann=True)


def registrable(host: str) -> str | None:
    """The registered domain of ``host`` (A-label), or None for an IP address or a bare suffix."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return None
    found = _psl().privatesuffix(a_label(host))
    return str(found) if found else None


class DomainCheck(Check[DomainConfig]):
    """Reports the registration expiry and registry holds of the site's domain."""

    type = "domain"
    Config = DomainConfig
    metrics = (
        MetricSpec("probe_domain_expiry_timestamp_seconds", "When the domain's registration expires (unix seconds)."),
        MetricSpec("sitewatch_domain_days_left", "Days until the registration expires (negative when expired)."),
        MetricSpec("sitewatch_domain_answer_age_seconds", "Age of the registry answer judged (answers are cached)."),
    )

    def __init__(self, config: DomainConfig, site: SiteInfo) -> None:
        super().__init__(config, site)
        host = site.url.raw_host or site.name
        self.domain = config.domain or registrable(host)
        self.problem = None if self.domain else f"{host} has no registrable domain (set domain:)"
        self.shown = _shown(self.domain or host)
        self.cache_dir = config.cache_dir or default_cache_dir()
        self.thresholds = Thresholds(warn=-config.warn_days, crit=-config.crit_days)
        self.holds = {status_key(s) for s in config.hold_statuses}

    @property
    def target_host(self) -> str:
        """The domain asked about (the registry's load is per domain)."""
        return self.domain or self.site.name

    async def run(self, ctx: Context) -> Result:
        """Use the cached answer if fresh, else ask the registry once, then judge."""
        if self.domain is None:
            return Result(Status.ERROR, str(self.problem))
        async with domain_cache.lock(self.domain):
            entry = await domain_cache.load(self.cache_dir, self.domain)
            now = ctx.clock.time()
            if self._due(entry, now):
                entry = await self._ask(ctx, entry, now)
                try:
                    await domain_cache.save(self.cache_dir, entry)
                except OSError as exc:
                    ctx.log.warning("domain_cache_write_failed dir=%s error=%s", self.cache_dir, type(exc).__name__)
        return self._judge(entry, ctx.clock.time())

    def _due(self, entry: Entry, now: float) -> bool:
        if entry.not_before is not None and now < entry.not_before:
            return False
        return not (entry.error is None and entry.fetched is not None and now - entry.fetched < self.config.refresh)

    async def _ask(self, ctx: Context, entry: Entry, now: float) -> Entry:
        assert self.domain is not None
        where = ["the registry"]  # set by _query as it goes, for the timeout's message
        try:
            async with asyncio.timeout(ctx.timeout):
                answer = await self._query(ctx, self.domain, where)
        except TimeoutError:
            return _failed(
                entry, now, f"timed out after {format_duration(ctx.timeout)} asking {where[0]}", self.config.retry
            )
        except Failure as exc:
            wait = max(self.config.retry, exc.retry_after or 0.0)
            return _failed(entry, now, exc.reason, wait)
        except aiohttp.ClientError as exc:
            return _failed(entry, now, f"request to {where[0]} failed: {type(exc).__name__}", self.config.retry)
        return Entry(self.domain, now, answer.expiry, list(answer.statuses), answer.registrar[:120], answer.source, now)

    async def _query(self, ctx: Context, domain: str, where: list[str]) -> Registration:
        cfg = self.config
        server = cfg.whois_server
        if server is None:
            where[0] = "the RDAP bootstrap"
            service = find_service(await self._bootstrap(ctx), domain)
            if service is not None:
                base = service[1][0]
                where[0] = f"RDAP {base}"
                return await query_rdap(ctx, base, domain, cfg.max_answer)
            tld = domain.rsplit(".", 1)[-1]
            server = WHOIS_SERVERS.get(tld)
            if server is None:
                raise Failure(
                    f"no RDAP service for .{_shown(tld)} in the bootstrap file"
                    " and no WHOIS server known for it (set whois_server:)"
                )
        where[0] = f"WHOIS {server}"
        return await query_whois(ctx, server, domain, cfg.max_answer)

    async def _bootstrap(self, ctx: Context) -> dict[str, list[str]]:
        """The bootstrap table: from ``rdap_bootstrap_url`` (refreshed daily, kept on disk), else the shipped one."""
        url = self.config.rdap_bootstrap_url
        if "" not in _BOOTSTRAPS:
            _BOOTSTRAPS[""] = (0.0, await asyncio.to_thread(load_bootstrap))
        if url is None:
            return _BOOTSTRAPS[""][1]
        now = ctx.clock.time()
        path = self.cache_dir / f"bootstrap-{hashlib.sha256(url.encode()).hexdigest()[:16]}.json"
        if url not in _BOOTSTRAPS:
            stored = await asyncio.to_thread(_read_bootstrap, path)
            if stored is not None:
                _BOOTSTRAPS[url] = stored
        fetched, table = _BOOTSTRAPS.get(url, (0.0, _BOOTSTRAPS[""][1]))
        if now - fetched < self.config.refresh:
            return table
        try:
            async with ctx.session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as response:
                if response.status != 200:
                    raise Failure(f"HTTP {response.status}")
                document = json.loads(await read_capped(response, self.config.max_answer, "RDAP bootstrap file"))
            table = parse_bootstrap(document)
        except (Failure, aiohttp.ClientError, ValueError) as exc:
            # An old table still routes correctly; the registries behind a TLD rarely move.
            ctx.log.warning("domain_bootstrap_refresh_failed error=%s", type(exc).__name__)
            _BOOTSTRAPS[url] = (now - self.config.refresh + self.config.retry, table)
            return table
        _BOOTSTRAPS[url] = (now, table)
        try:
            await asyncio.to_thread(_write_bootstrap, path, now, document)
        except OSError as exc:
            ctx.log.warning("domain_cache_write_failed dir=%s error=%s", self.cache_dir, type(exc).__name__)
        return table

    def _judge(self, entry: Entry, now: float) -> Result:
        details: dict[str, Any] = {
            "domain": self.domain,
            "source": entry.source,
            "checked": _iso(entry.fetched),
            "statuses": entry.statuses,
            "registrar": entry.registrar,
            "expiry": _iso(entry.expiry),
        }
        if entry.error is not None or entry.expiry is None:
            reason = entry.error or "no answer yet"
            if entry.not_before is not None and entry.not_before > now:
                reason += (
                    f" (next attempt after {dt.datetime.fromtimestamp(entry.not_before, dt.UTC):%Y-%m-%d %H:%M} UTC)"
                )
            details["error"] = entry.error
            return Result(Status.ERROR, f"{self.shown}: {reason}", (), details)
        left = entry.expiry - now
        date = f"{dt.datetime.fromtimestamp(entry.expiry, dt.UTC):%Y-%m-%d}"
        problems: list[tuple[Status, str]] = []
        if left <= 0:
            problems.append((Status.CRITICAL, f"{self.shown} expired {_days(-left)} ago ({date})"))
        elif (status := self.thresholds.evaluate(-left / _DAY)) is not Status.OK:
            problems.append((status, f"{self.shown} expires in {_days(left)} ({date})"))
        held = [s for s in entry.statuses if status_key(s) in self.holds]
        if held:
            problems.append((Status.CRITICAL, f"{self.shown} is on registry status {', '.join(held)}"))
        samples = (
            Sample("probe_domain_expiry_timestamp_seconds", entry.expiry),
            Sample("sitewatch_domain_days_left", left / _DAY),
            Sample("sitewatch_domain_answer_age_seconds", max(0.0, now - (entry.fetched or now))),
        )
        via = f" ({entry.source})" if entry.source else ""
        if problems:
            summary = "; ".join(text for _, text in problems) + via
            return Result(worst(*(s for s, _ in problems)), summary, samples, details)
        registrar = f", registrar {entry.registrar}" if entry.registrar else ""
        return Result(Status.OK, f"{self.shown} expires in {_days(left)} ({date}){registrar}{via}", samples, details)


def _failed(entry: Entry, now: float, reason: str, wait: float) -> Entry:
    entry.attempted, entry.error, entry.not_before = now, reason, now + wait
    return entry


def _read_bootstrap(path: Path) -> tuple[float, dict[str, list[str]]] | None:
    try:
        stored = json.loads(path.read_bytes())
        return float(stored["fetched"]), parse_bootstrap(stored["document"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_bootstrap(path: Path, fetched: float, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"fetched": fetched, "document": document}), "utf-8")
    os.replace(tmp, path)


def _shown(name: str) -> str:
    """``пример.рф (xn--e1afmkfd.xn--p1ai)`` for an IDN, the name itself otherwise."""
    try:
        unicode = idna.decode(name)
    except idna.IDNAError:
        return name
    return name if unicode == name else f"{unicode} ({name})"


def _iso(when: float | None) -> str | None:
    return None if when is None else dt.datetime.fromtimestamp(when, dt.UTC).isoformat()


def _days(seconds: float) -> str:
    if seconds < _DAY:
        return format_duration(seconds)
    days = int(seconds // _DAY)
    return f"{days} day{'s' if days != 1 else ''}"
