"""``tls`` check: certificate expiry, the chain, the hostname and the TLS version.

How it verifies: one handshake with a *verifying* context (system trust store or
``ca_file``), which in the healthy case yields the chain the server sent and the
trusted path at once. Only when OpenSSL rejects the chain is a second,
non-verifying handshake made to read the chain anyway. Both contexts run at
OpenSSL security level 0 and the verifying one ignores validity dates, so a
rejection means "not trusted" and nothing else: expiry, dates, weak keys, SHA-1,
the hostname and the TLS version are each judged here and reported as their own
line. (cryptography's offline verifier was the alternative; it rejects SHA-1 and
RSA-1024 itself and would blur those findings into one "does not verify".)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

from checks.tls_certs import CertFacts, facts, hostname_matches, names
from checks.tls_config import TlsConfig
from checks.tls_inspect import Handshake, HandshakeError, VerifyFailure, handshake, inspect_context, verify_context
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

__all__ = ["TlsCheck"]

_DAY = 86400.0
_OLD_VERSIONS = {"SSL 3.0", "TLS 1.0", "TLS 1.1"}
_WEAK_HASHES = {"sha1", "md5"}
#: OpenSSL verify codes worth their own wording.
_SELF_SIGNED, _SELF_SIGNED_IN_CHAIN = 18, 19
_NO_ISSUER = {2, 20, 21}


@dataclass
class _Probe:
    """The outcome for one address."""

    address: str
    status: Status = Status.OK
    lines: list[str] = field(default_factory=list)
    hs: Handshake | None = None
    certs: list[CertFacts] = field(default_factory=list)
    verify: str = "ok"
    connected: bool = True
    untrusted: str | None = None  # the chain line, when the verifying handshake refused

    @property
    def earliest(self) -> CertFacts | None:
        return min(self.certs, key=lambda c: c.not_after, default=None)


class TlsCheck(Check[TlsConfig]):
    """Connects with SNI, reads the chain and reports expiry, trust, hostname and weaknesses."""

    type = "tls"
    Config = TlsConfig
    metrics = (
        MetricSpec(
            "probe_ssl_earliest_cert_expiry", "Expiry (unix seconds) of the earliest-expiring certificate sent."
        ),
        MetricSpec(
            "probe_ssl_last_chain_expiry_timestamp_seconds", "Earliest expiry (unix seconds) in the verified chain."
        ),
        MetricSpec("probe_tls_version_info", "The negotiated TLS version (value 1).", ("version",)),
        MetricSpec(
            "sitewatch_tls_cert_days_left", "Days until expiry: the leaf, and the earliest of the chain.", ("cert",)
        ),
        MetricSpec("sitewatch_tls_cert_info", "The leaf certificate (value 1).", ("issuer", "subject", "serial")),
    )

    def __init__(self, config: TlsConfig, site: SiteInfo) -> None:
        super().__init__(config, site)
        url = site.url
        self.host = (config.host or url.raw_host or site.name).rstrip(".")
        https_port = url.explicit_port if url.scheme == "https" else None
        self.port = config.port or https_port or 443
        # Deadlines in days; Thresholds judge "above", so days left are compared negated.
        self.thresholds = Thresholds(warn=-config.warn_days, crit=-config.crit_days)
        self.server_name = None if _is_ip(self.host) else self.host

    @property
    def target_host(self) -> str:
        """The host handshaken with."""
        return self.host

    async def run(self, ctx: Context) -> Result:
        """Resolve, handshake with one or every address, and judge what was sent."""
        deadline = asyncio.get_running_loop().time() + ctx.timeout
        try:
            # Reading the system store or ca_file is file I/O: off the event loop, and
            # bounded (a hung filesystem costs this run its timeout, not the agent a loop).
            async with asyncio.timeout_at(deadline):
                verifier = await asyncio.to_thread(verify_context, self.config.ca_file)
        except TimeoutError:
            return Result(Status.ERROR, f"timed out after {format_duration(ctx.timeout)} loading the trust store")
        except OSError as exc:  # ssl.SSLError is an OSError: a file that holds no certificate
            return Result(Status.ERROR, f"cannot load CA file {self.config.ca_file}: {exc.strerror or exc}")
        try:
            async with asyncio.timeout_at(deadline):
                addresses = await self._addresses(ctx)
        except TimeoutError:
            return Result(Status.ERROR, f"timed out after {format_duration(ctx.timeout)} resolving {self.host}")
        except OSError as exc:
            return Result(Status.ERROR, f"cannot resolve {self.host}: {exc.strerror or exc}")
        now = ctx.clock.time()
        if self.config.all_addresses:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._probe(a, verifier, deadline, ctx, now)) for a in addresses]
            probes = [t.result() for t in tasks]
        else:
            probes = [await self._first(addresses, verifier, deadline, ctx, now)]
        return self._result(probes, now)

    async def _addresses(self, ctx: Context) -> list[str]:
        if _is_ip(self.host):
            return [self.host]
        found = await ctx.resolver.resolve(self.host, self.port, socket.AF_UNSPEC)
        addresses = list(dict.fromkeys(r["host"] for r in found))
        if not addresses:
            raise OSError(socket.EAI_NONAME, "no A/AAAA address")
        return addresses

    async def _first(
        self, addresses: list[str], verifier: ssl.SSLContext, deadline: float, ctx: Context, now: float
    ) -> _Probe:
        """Like a browser: the first address that accepts TCP is the one judged."""
        for address in addresses:
            probe = await self._probe(address, verifier, deadline, ctx, now)
            if probe.connected:
                break
        return probe

    async def _probe(self, address: str, verifier: ssl.SSLContext, deadline: float, ctx: Context, now: float) -> _Probe:
        probe = _Probe(address)
        stage = ["connecting"]
        try:
            async with asyncio.timeout_at(deadline):
                try:
                    probe.hs = await handshake(address, self.port, self.server_name, verifier, stage)
                except VerifyFailure as failure:
                    probe.verify = failure.message
                    probe.hs = await handshake(address, self.port, self.server_name, inspect_context(), stage)
                    probe.untrusted = self._untrusted(failure, probe.hs)
        except HandshakeError as exc:
            probe.connected = exc.connected
            return _error(probe, exc.reason)
        except TimeoutError:
            return _error(probe, f"timed out after {format_duration(ctx.timeout)} {stage[0]}")
        probe.certs = [facts(c) for c in probe.hs.chain]
        self._judge(probe, now)
        return probe

    def _untrusted(self, failure: VerifyFailure, hs: Handshake) -> str:
        leaf = facts(hs.chain[0]) if hs.chain else None
        sent = f"server sent {len(hs.chain)} certificate{'s' if len(hs.chain) != 1 else ''}"
        if failure.code == _SELF_SIGNED:
            return f"certificate for {self.host} is self-signed and not trusted"
        if failure.code == _SELF_SIGNED_IN_CHAIN:
            root = facts(hs.chain[-1]).subject if hs.chain else "?"
            return f"chain of {self.host} ends in an untrusted root '{root}' ({sent})"
        if failure.code in _NO_ISSUER:
            issuer = leaf.issuer if leaf else "?"
            missing = " (incomplete chain: missing intermediate?)" if len(hs.chain) == 1 else ""
            return f"chain of {self.host} is not trusted: issuer '{issuer}' not found ({sent}){missing}"
        return f"chain of {self.host} does not verify: {failure.message}"

    def _judge(self, probe: _Probe, now: float) -> None:
        assert probe.hs is not None
        problems: list[tuple[Status, str]] = []
        if probe.untrusted:
            problems.append((Status.CRITICAL, probe.untrusted))
        for index, cert in enumerate(probe.certs):
            name = f"certificate for {self.host}" if index == 0 else _role(cert)
            left = cert.not_after.timestamp() - now
            if cert.not_before.timestamp() > now:
                wait = _days(cert.not_before.timestamp() - now)
                problems.append((Status.CRITICAL, f"{name} is not valid until {cert.not_before:%Y-%m-%d} (in {wait})"))
            if left <= 0:
                problems.append((Status.CRITICAL, f"{name} expired {_days(-left)} ago ({cert.not_after:%Y-%m-%d})"))
            elif (status := self.thresholds.evaluate(-left / _DAY)) is not Status.OK:
                problems.append((status, f"{name} expires in {_days(left)} ({cert.not_after:%Y-%m-%d})"))
            if cert.weak_key:
                minimum = "no client accepts DSA" if cert.key.startswith("DSA") else "minimum RSA-2048"
                problems.append((Status.CRITICAL, f"{name} has a weak key: {cert.key} ({minimum})"))
            if cert.signature in _WEAK_HASHES and not (index > 0 and cert.self_signed):
                # A root's signature on itself is never checked by clients, so it does not count.
                problems.append((Status.CRITICAL, f"{name} is signed with {cert.signature.upper()}"))
        if probe.hs.chain and not hostname_matches(probe.hs.chain[0], self.host):
            valid_for = ", ".join(names(probe.hs.chain[0])[:4]) or "no subjectAltName"
            problems.append((Status.CRITICAL, f"certificate does not match {self.host} (it is for {valid_for})"))
        if probe.hs.version in _OLD_VERSIONS:
            problems.append((Status.CRITICAL, f"server negotiated {probe.hs.version} (TLS 1.2 or newer expected)"))
        probe.status = worst(*(s for s, _ in problems))
        probe.lines = [text for _, text in problems]

    def _result(self, probes: list[_Probe], now: float) -> Result:
        # The worst address is reported; among equals, the one whose chain expires first.
        def badness(p: _Probe) -> tuple[int, float]:
            earliest = p.earliest
            return (p.status.rank, -(earliest.not_after.timestamp() if earliest else 0.0))

        chosen = max(probes, key=badness)
        measured = [p for p in probes if p.hs is not None]
        sampled = max(measured, key=badness) if measured else None
        summary = "; ".join(chosen.lines) if chosen.lines else self._ok_summary(chosen, now)
        if len(probes) > 1:
            bad = sum(p.status is not Status.OK for p in probes)
            summary = f"{chosen.address}: {summary}" + (f" ({bad} of {len(probes)} addresses)" if bad else "")
        details: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "address": chosen.address,
            "problems": chosen.lines,
            "verification": chosen.verify,
        }
        if chosen.hs is not None:
            details.update(
                tls_version=chosen.hs.version,
                cipher=chosen.hs.cipher,
                certificates=[c.as_dict() for c in chosen.certs],
            )
        if len(probes) > 1:
            details["addresses"] = {p.address: {"status": p.status.value, "problems": p.lines} for p in probes}
        samples = self._samples(sampled, now) if sampled else ()
        return Result(chosen.status, summary, samples, details)

    def _ok_summary(self, probe: _Probe, now: float) -> str:
        assert probe.hs is not None
        leaf = probe.certs[0]
        return (
            f"certificate for {self.host} expires in {_days(leaf.not_after.timestamp() - now)}"
            f" ({leaf.not_after:%Y-%m-%d}), {probe.hs.version}, chain trusted"
        )

    def _samples(self, probe: _Probe, now: float) -> tuple[Sample, ...]:
        assert probe.hs is not None
        earliest, leaf = probe.earliest, probe.certs[0] if probe.certs else None
        samples = [Sample("probe_tls_version_info", 1, (("version", probe.hs.version),))]
        if earliest is not None and leaf is not None:
            samples += [
                Sample("probe_ssl_earliest_cert_expiry", earliest.not_after.timestamp()),
                Sample("sitewatch_tls_cert_days_left", (leaf.not_after.timestamp() - now) / _DAY, (("cert", "leaf"),)),
                Sample(
                    "sitewatch_tls_cert_days_left",
                    (earliest.not_after.timestamp() - now) / _DAY,
                    (("cert", "earliest"),),
                ),
                Sample(
                    "sitewatch_tls_cert_info",
                    1,
                    (("issuer", leaf.issuer), ("subject", leaf.subject), ("serial", leaf.serial)),
                ),
            ]
        if probe.hs.verified:
            last = min(c.not_valid_after_utc for c in probe.hs.verified)
            samples.append(Sample("probe_ssl_last_chain_expiry_timestamp_seconds", last.timestamp()))
        return tuple(samples)


def _error(probe: _Probe, reason: str) -> _Probe:
    probe.status, probe.lines = Status.ERROR, [reason]
    return probe


def _role(cert: CertFacts) -> str:
    return f"{'root' if cert.self_signed else 'intermediate'} certificate '{cert.subject}'"


def _days(seconds: float) -> str:
    """Whole days for humans ("6 days"); hours and minutes under a day."""
    if seconds < _DAY:
        return format_duration(seconds)
    days = int(seconds // _DAY)
    return f"{days} day{'s' if days != 1 else ''}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
