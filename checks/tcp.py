"""``tcp`` check: connect (optionally with TLS) to host:port and hold a send/expect dialogue.

The dialogue is what blackbox_exporter's tcp prober calls ``query_response``: ``send:``
writes a line, ``expect:`` reads until a line matches a regular expression. Reads are
bounded twice: by ``max_read`` bytes per step and by the run's timeout, so a server
that accepts and never speaks costs one timeout and is reported as such (``error``).
A banner without a newline (MySQL's binary handshake) is matched as it arrives.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from checks.tcp_config import Step, TcpConfig
from sitewatch.probe import Check, Context, MetricSpec, Result, Sample, SiteInfo, Status, format_duration

__all__ = ["TcpCheck"]

_SNIPPET = 120
_CHUNK = 4096
_PHASES = ("resolve", "connect", "tls", "first_byte", "dialogue")
#: One label tuple per phase, shared by every result.
_PHASE_LABELS = {p: (("phase", p),) for p in _PHASES}


class _Failed(Exception):
    """A failure found during the dialogue: the result status and the one-line reason."""

    def __init__(self, status: Status, summary: str) -> None:
        super().__init__(summary)
        self.status = status
        self.summary = summary


@dataclass
class _Run:
    """What one run saw, filled in as it goes (a timeout reports how far it got)."""

    stage: str = "resolving"
    address: str = ""
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_PHASES, 0.0))
    got: list[str] = field(default_factory=list)  # the line each expect: matched
    seen: str = ""  # what the current expect: step has read so far (for its failure message)
    tls_version: str | None = None
    cert_expiry: float | None = None
    regex_failed: bool = False


class TcpCheck(Check[TcpConfig]):
    """Connects to a TCP service and checks its banner or answers."""

    type = "tcp"
    Config = TcpConfig
    metrics = (
        MetricSpec(
            "probe_tcp_duration_seconds",
            "Duration of each phase: resolve, connect, tls, first_byte (ready → first byte read), dialogue.",
            ("phase",),
        ),
        MetricSpec("probe_failed_due_to_regex", "1 if an expect: step did not match what the server sent, else 0."),
        MetricSpec("probe_ssl_earliest_cert_expiry", "Expiry (unix seconds) of the certificate the server sent."),
        MetricSpec("probe_tls_version_info", "The negotiated TLS version (value 1).", ("version",)),
    )

    def __init__(self, config: TcpConfig, site: SiteInfo) -> None:
        super().__init__(config, site)
        self.host = (config.host or site.url.raw_host or site.name).rstrip(".")
        self.port = config.port
        self.literal = _is_ip(self.host)
        # An IP address is verified against the certificate's IP SANs; Python sends no SNI for it.
        self.server_name = config.server_name or self.host
        self.target = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def target_host(self) -> str:
        """The host connected to."""
        return self.host

    async def run(self, ctx: Context) -> Result:
        """Resolve, connect, optionally handshake, then run the steps in order."""
        run = _Run()
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(ctx.timeout):
                reader, writer = await self._connect(ctx, run)
                await self._dialogue(reader, writer, run)
            status, summary = Status.OK, self._ok_summary(run)
        except _Failed as exc:
            status, summary = exc.status, exc.summary
        except TimeoutError:
            status, summary = Status.ERROR, f"timed out after {format_duration(ctx.timeout)} {run.stage}"
            if run.seen:
                summary += f", got {_clean(run.seen)!r}"
        except OSError as exc:  # after connecting: the server reset or broke the dialogue
            reason = os.strerror(exc.errno) if exc.errno else type(exc).__name__
            status, summary = Status.CRITICAL, f"connection broken {run.stage}: {reason}"
        finally:
            if writer is not None:
                writer.transport.abort()  # no close handshake: a hostile peer must not hold us up
        return Result(status, summary, self._samples(run), self._details(run))

    async def _connect(self, ctx: Context, run: _Run) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        started = time.perf_counter()
        addresses = await self._addresses(ctx)
        run.phases["resolve"] = time.perf_counter() - started
        last: OSError | None = None
        for address in addresses:
            run.address, run.stage = address, f"connecting to {self._at(address)}"
            started = time.perf_counter()
            try:
                reader, writer = await asyncio.open_connection(address, self.port, limit=_CHUNK * 4)
            except OSError as exc:
                last = exc
                continue
            run.phases["connect"] = time.perf_counter() - started
            if self.config.tls:
                await self._handshake(writer, run)
            return reader, writer
        assert last is not None  # addresses is never empty
        # asyncio's strerror is "Connect call failed (...)"; the errno says what happened.
        reason = os.strerror(last.errno) if last.errno else last.strerror or type(last).__name__
        raise _Failed(Status.ERROR, f"cannot connect to {self._at(run.address)}: {reason}")

    async def _addresses(self, ctx: Context) -> list[str]:
        if self.literal:
            return [self.host]
        try:
            found = await ctx.resolver.resolve(self.host, self.port, socket.AF_UNSPEC)
        except OSError as exc:
            raise _Failed(Status.ERROR, f"cannot resolve {self.host}: {exc.strerror or exc}") from None
        addresses = list(dict.fromkeys(r["host"] for r in found))
        if not addresses:
            raise _Failed(Status.ERROR, f"cannot resolve {self.host}: no A/AAAA address")
        return addresses

    async def _handshake(self, writer: asyncio.StreamWriter, run: _Run) -> None:
        run.stage = f"in the TLS handshake with {self._at(run.address)}"
        started = time.perf_counter()
        try:
            await writer.start_tls(self._tls_context(), server_hostname=self.server_name)
        except ssl.SSLCertVerificationError as exc:
            raise _Failed(Status.CRITICAL, f"TLS to {self._at(run.address)}: {exc.verify_message}") from None
        except (ssl.SSLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
            raise _Failed(Status.CRITICAL, f"TLS handshake with {self._at(run.address)} failed: {reason}") from None
        except ValueError as exc:  # a server_name ssl refuses (empty, a leading dot)
            raise _Failed(Status.ERROR, f"cannot start TLS with server_name {self.server_name!r}: {exc}") from None
        run.phases["tls"] = time.perf_counter() - started
        sslobj = writer.get_extra_info("ssl_object")
        if sslobj is not None:
            run.tls_version = sslobj.version()
            der = sslobj.getpeercert(binary_form=True)
            if der:
                run.cert_expiry = _expiry(der)

    def _tls_context(self) -> ssl.SSLContext:
        if not self.config.verify:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.config.ca_file)

    async def _dialogue(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, run: _Run) -> None:
        ready = time.perf_counter()
        buffer = bytearray()
        first: list[float] = []
        for step in self.config.steps:
            if step.send is not None:
                run.stage = f"sending {step.send.strip()[:40]!r} to {self._at(run.address)}"
                writer.write(step.payload)
                await writer.drain()
            else:
                await self._expect(reader, step, buffer, run, first)
        done = time.perf_counter()
        run.phases["first_byte"] = (first[0] if first else done) - ready
        run.phases["dialogue"] = done - ready

    async def _expect(
        self, reader: asyncio.StreamReader, step: Step, buffer: bytearray, run: _Run, first: list[float]
    ) -> None:
        assert step.expect is not None
        pattern, limit = step.expect, self.config.max_read
        want = f"/{pattern.pattern}/ from {self._at(run.address)}"
        run.stage, run.seen = f"waiting for {want}", ""
        read = 0
        while True:
            line = _match(buffer, pattern)
            if line is not None:
                run.got.append(line)
                run.seen = ""
                return
            run.seen = buffer.decode("utf-8", "replace")
            if read >= limit:
                run.regex_failed = True
                raise _Failed(Status.CRITICAL, f"expected {want}, got {_clean(run.seen)!r} (first {limit} bytes)")
            chunk = await reader.read(min(_CHUNK, limit - read))
            if not chunk:
                run.regex_failed = bool(run.seen)
                got = f"got {_clean(run.seen)!r}" if run.seen else "got nothing"
                raise _Failed(Status.CRITICAL, f"expected {want}, {got} before the connection closed")
            if not first:
                first.append(time.perf_counter())
            read += len(chunk)
            buffer += chunk

    def _ok_summary(self, run: _Run) -> str:
        total = sum(run.phases.values())
        tls = f" ({run.tls_version})" if run.tls_version else ""
        got = f", got {_clean(run.got[-1])!r}" if run.got else ""
        return f"connected to {self._at(run.address)}{tls} in {format_duration(total)}{got}"

    def _at(self, address: str) -> str:
        """``host:port`` for humans, with the address when the host is a name."""
        if not address or address == self.host:
            return self.target
        return f"{self.target} ({address})"

    def _samples(self, run: _Run) -> tuple[Sample, ...]:
        samples = [Sample("probe_tcp_duration_seconds", v, _PHASE_LABELS[k]) for k, v in run.phases.items()]
        samples.append(Sample("probe_failed_due_to_regex", 1.0 if run.regex_failed else 0.0))
        if run.tls_version:
            samples.append(Sample("probe_tls_version_info", 1, (("version", run.tls_version),)))
        if run.cert_expiry is not None:
            samples.append(Sample("probe_ssl_earliest_cert_expiry", run.cert_expiry))
        return tuple(samples)

    def _details(self, run: _Run) -> dict[str, Any]:
        details: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "address": run.address,
            "phases": {k: round(v, 6) for k, v in run.phases.items()},
            "got": [_clean(g) for g in run.got],
        }
        if run.tls_version:
            details["tls_version"] = run.tls_version
        return details


def _match(buffer: bytearray, pattern: re.Pattern[str]) -> str | None:
    """The first buffered line that matches, consuming the buffer through it; None if none does yet.

    Complete lines are tried one by one; the trailing bytes without a newline are tried
    too, so a banner that never ends its line still matches.
    """
    start = 0
    while start < len(buffer):
        end = buffer.find(b"\n", start)
        stop = len(buffer) if end < 0 else end + 1
        line = bytes(buffer[start:stop]).decode("utf-8", "replace").rstrip("\r\n")
        if pattern.search(line):
            del buffer[:stop]
            return line
        start = stop
    return None


def _expiry(der: bytes) -> float | None:
    """The notAfter (unix seconds) of a DER certificate; None if it does not parse."""
    try:
        return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
    except ValueError:
        return None


def _clean(text: str) -> str:
    """Printable, bounded text from the server (it may send anything, escapes included)."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())[:_SNIPPET]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
