"""``dns`` check: a name's records as one or several resolvers answer them, compared as sets.

Queries go through dnspython's asyncio resolver with an explicit server and port,
so the check sees exactly what that resolver says (a truncated UDP answer is asked
again over TCP by dnspython). Every (resolver, type) query runs concurrently under
the check's timeout. Queries carry the AD bit (RFC 6840 §5.7) so a validating
resolver reports whether the answer was DNSSEC-authenticated.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.resolver

from checks.dns_config import DnsConfig, Server, record_key, record_text
from sitewatch.probe import Check, Context, MetricSpec, Result, Sample, SiteInfo, Status, format_duration, worst

__all__ = ["DnsCheck"]

_SYSTEM = "system resolver"
_SHOW = 6  # records listed in a summary line before "…"


@dataclass(frozen=True, slots=True)
class _Answer:
    """One resolver's answer for one type: the records (or the reason there are none)."""

    resolver: str
    rdtype: str
    records: tuple[dns.rdata.Rdata, ...] = ()
    seconds: float = 0.0
    authenticated: bool = False
    nxdomain: bool = False
    error: str | None = None

    @property
    def keys(self) -> frozenset[object]:
        return frozenset(record_key(r) for r in self.records)


class DnsCheck(Check[DnsConfig]):
    """Resolves the expected record types and reports any record that changed."""

    type = "dns"
    Config = DnsConfig
    metrics = (
        MetricSpec(
            "probe_dns_lookup_time_seconds", "Seconds the slowest resolver took to answer, per type.", ("type",)
        ),
        MetricSpec("probe_dns_answer_rrs", "Records in the answer of the first resolver, per type.", ("type",)),
        MetricSpec("sitewatch_dns_authenticated", "1 if every answer carried the AD (DNSSEC-validated) flag, else 0."),
    )

    def __init__(self, config: DnsConfig, site: SiteInfo) -> None:
        super().__init__(config, site)
        self.qname = (config.name or site.url.raw_host or site.name).rstrip(".").lower() + "."
        self.shown = self.qname.rstrip(".")
        self.types = tuple(config.records) or ("A", "AAAA")
        self.labels = {t: (("type", t),) for t in self.types}

    @property
    def target_host(self) -> str:
        """The first resolver asked (the load falls on it), else the name."""
        return str(self.config.resolvers[0][0]) if self.config.resolvers else self.shown

    async def run(self, ctx: Context) -> Result:
        """Ask every resolver for every type at once, then compare."""
        servers: list[Server | None] = list(self.config.resolvers) or [None]
        # dnspython's own deadline first, so its error names the query; it overruns its lifetime
        # by one retry back-off (0.1 s at first), hence the margin.
        lifetime = max(ctx.timeout * 0.8, 0.05)
        try:
            async with asyncio.timeout(ctx.timeout), asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._ask(s, t, lifetime)) for s in servers for t in self.types]
        except TimeoutError:
            return Result(Status.ERROR, f"timed out after {format_duration(ctx.timeout)} resolving {self.shown}")
        return self._judge([t.result() for t in tasks])

    async def _ask(self, server: Server | None, rdtype: str, lifetime: float) -> _Answer:
        if server is None:
            resolver = dns.asyncresolver.Resolver()  # /etc/resolv.conf, read when asked (reloads see changes)
            name = f"{_SYSTEM} ({', '.join(map(str, resolver.nameservers))})"
        else:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers, resolver.port, name = [server[0]], server[1], str(server)
        resolver.timeout = resolver.lifetime = lifetime
        resolver.flags = dns.flags.RD | dns.flags.AD
        if self.config.dnssec:
            resolver.use_edns(0, dns.flags.DO, 1232)
        started = time.perf_counter()
        try:
            answer = await resolver.resolve(self.qname, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return _Answer(name, rdtype, seconds=time.perf_counter() - started, nxdomain=True)
        except dns.resolver.LifetimeTimeout:
            return _Answer(name, rdtype, error=f"no answer from {name} within {format_duration(lifetime)}")
        except dns.resolver.NoNameservers as exc:
            return _Answer(name, rdtype, error=f"{name} failed to answer: {_rcode(exc)}")
        except dns.exception.DNSException as exc:
            return _Answer(name, rdtype, error=f"{name} failed to answer: {type(exc).__name__}")
        seconds = time.perf_counter() - started
        records = tuple(answer.rrset) if answer.rrset is not None else ()
        authenticated = bool(answer.response.flags & dns.flags.AD)
        return _Answer(name, rdtype, records, seconds, authenticated)

    def _judge(self, answers: list[_Answer]) -> Result:
        problems: list[tuple[Status, str]] = []
        several = len(self.config.resolvers) > 1
        for rdtype in self.types:
            mine = [a for a in answers if a.rdtype == rdtype]
            for answer in mine:
                if answer.error is not None:
                    problems.append((Status.ERROR, f"{self.shown} {rdtype}: {answer.error}"))
            got = [a for a in mine if a.error is None]
            expected = self.config.records.get(rdtype)
            if expected is not None:
                wanted = frozenset(record_key(r) for r in expected)
                for answer in got:
                    if answer.keys != wanted:
                        where = f" from {answer.resolver}" if several else ""
                        problems.append(
                            (
                                Status.CRITICAL,
                                f"{self.shown} {rdtype}{where}: expected {_show(expected)}, got {_got(answer)}",
                            )
                        )
            elif len({a.keys for a in got}) > 1:
                first = got[0]
                for other in got[1:]:
                    if other.keys != first.keys:
                        problems.append(
                            (
                                Status.CRITICAL,
                                f"resolvers disagree on {self.shown} {rdtype}: {first.resolver} says {_got(first)},"
                                f" {other.resolver} says {_got(other)}",
                            )
                        )
        if not self.config.records and all(a.error is None and not a.records for a in answers):
            problems.append((Status.CRITICAL, f"{self.shown} has no A or AAAA record"))
        if self.config.dnssec:
            for answer in answers:
                if answer.error is None and not answer.authenticated:
                    problems.append(
                        (
                            Status.CRITICAL,
                            f"{self.shown} {answer.rdtype} from {answer.resolver} is not DNSSEC-validated (no AD flag)",
                        )
                    )
        samples = self._samples(answers)
        details = self._details(answers)
        if problems:
            details["problems"] = [text for _, text in problems]
            return Result(worst(*(s for s, _ in problems)), "; ".join(text for _, text in problems), samples, details)
        slowest = max((a.seconds for a in answers), default=0.0)
        found = ", ".join(f"{t} {_show(self._first(answers, t).records)}" for t in self.types)
        who = f" ({len(self.config.resolvers)} resolvers agree)" if several else ""
        return Result(Status.OK, f"{self.shown}: {found}{who} in {format_duration(slowest)}", samples, details)

    @staticmethod
    def _first(answers: list[_Answer], rdtype: str) -> _Answer:
        return next(a for a in answers if a.rdtype == rdtype)

    def _samples(self, answers: list[_Answer]) -> tuple[Sample, ...]:
        samples: list[Sample] = []
        for rdtype in self.types:
            mine = [a for a in answers if a.rdtype == rdtype and a.error is None]
            if mine:
                samples.append(
                    Sample("probe_dns_lookup_time_seconds", max(a.seconds for a in mine), self.labels[rdtype])
                )
                samples.append(Sample("probe_dns_answer_rrs", len(mine[0].records), self.labels[rdtype]))
        measured = [a for a in answers if a.error is None]
        if measured:
            samples.append(
                Sample("sitewatch_dns_authenticated", 1.0 if all(a.authenticated for a in measured) else 0.0)
            )
        return tuple(samples)

    def _details(self, answers: list[_Answer]) -> dict[str, Any]:
        found: dict[str, dict[str, Any]] = {}
        for a in answers:
            entry: dict[str, Any] = {"seconds": round(a.seconds, 6), "authenticated": a.authenticated}
            if a.error is not None:
                entry["error"] = a.error
            else:
                entry["records"] = sorted(record_text(r) for r in a.records)
                entry["nxdomain"] = a.nxdomain
            found.setdefault(a.resolver, {})[a.rdtype] = entry
        expected = {t: sorted(record_text(r) for r in rs) for t, rs in self.config.records.items()}
        return {"name": self.shown, "expected": expected, "answers": found}


def _show(records: tuple[dns.rdata.Rdata, ...]) -> str:
    if not records:
        return "none"
    texts = sorted(_printable(record_text(r)) for r in records)
    listed = ", ".join(f"'{t}'" for t in texts[:_SHOW])
    return listed + (f" (+{len(texts) - _SHOW} more)" if len(texts) > _SHOW else "")


def _got(answer: _Answer) -> str:
    if answer.nxdomain:
        return "none (NXDOMAIN)"
    return _show(answer.records)


def _rcode(exc: dns.resolver.NoNameservers) -> str:
    """Why the last attempt failed: the rcode answered (SERVFAIL, REFUSED …) or the I/O error."""
    for error in reversed(exc.kwargs.get("errors") or ()):
        if not isinstance(error, tuple) or len(error) < 5:
            continue
        tcp, problem, response = error[1], error[3], error[4]
        if isinstance(response, dns.message.Message):
            return str(dns.rcode.to_text(response.rcode()))
        if isinstance(problem, OSError):
            reason = os.strerror(problem.errno) if problem.errno else type(problem).__name__
            return f"{reason} (over {'TCP' if tcp else 'UDP'})"
        if problem is not None:
            return type(problem).__name__
    return "no usable answer"


def _printable(text: str) -> str:
    """Site-controlled text (TXT records) made printable and bounded."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    return clean if len(clean) <= 120 else clean[:119] + "…"
