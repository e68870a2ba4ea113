"""Whether the agent's own network works: a round of probes of ``agent.reference_targets``.

When every reference fails at once, the agent cannot tell a site outage from its own lost
uplink or DNS, so site failures are held as unconfirmed and one incident about the agent
opens instead (sitewatch.incidents.network). One reference answering is enough: the way
out works, and failing sites are failing for their own reasons.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from aiohttp.abc import AbstractResolver

from sitewatch.config.references import parse_reference
from sitewatch.probe import Clock

__all__ = ["NetworkState", "Reachability", "ReachabilityMonitor", "Reference"]

NetworkState = Literal["unknown", "ok", "offline"]


@dataclass(frozen=True, slots=True)
class Reference:
    """One reference target's latest probe."""

    target: str
    ok: bool
    summary: str
    seconds: float


@dataclass(frozen=True, slots=True)
class Reachability:
    """The agent's network as of the last round: ``offline`` when every reference failed."""

    state: NetworkState = "unknown"
    since: float | None = None  # when the state last changed
    checked_at: float | None = None
    references: tuple[Reference, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``/healthz``'s ``network`` object (UTC ISO times, stable keys)."""
        return {
            "state": self.state,
            "since": _iso(self.since),
            "checked_at": _iso(self.checked_at),
            "references": [
                {"target": r.target, "ok": r.ok, "summary": r.summary, "seconds": round(r.seconds, 6)}
                for r in self.references
            ],
        }


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


class ReachabilityMonitor:
    """Probes every reference target at once, each within ``timeout``; keeps the latest round."""

    def __init__(
        self,
        targets: Sequence[str],
        timeout: float,
        session: aiohttp.ClientSession,
        resolver: AbstractResolver,
        clock: Clock,
    ) -> None:
        self.targets = tuple(targets)
        self._timeout = timeout
        self._session = session
        self._resolver = resolver
        self._clock = clock
        self.current = Reachability()

    async def probe(self) -> Reachability:
        """One round: every target probed concurrently; the state moves to ``ok`` or ``offline``."""
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._one(t)) for t in self.targets]
        references = tuple(t.result() for t in tasks)
        now = self._clock.time()
        state: NetworkState = "ok" if any(r.ok for r in references) else "offline"
        since = self.current.since if state == self.current.state else now
        self.current = Reachability(state, since, now, references)
        return self.current

    async def _one(self, target: str) -> Reference:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout):
                summary = await self._reach(target)
        except TimeoutError:
            return Reference(target, False, f"no answer within {self._timeout:g}s", time.monotonic() - started)
        except (OSError, aiohttp.ClientError, ValueError) as exc:
            return Reference(target, False, _reason(exc), time.monotonic() - started)
        return Reference(target, True, summary, time.monotonic() - started)

    async def _reach(self, target: str) -> str:
        parsed = parse_reference(target)
        if parsed.kind == "http":
            # Any answer, even a 5xx, proves the way there works; the body is not read.
            async with self._session.get(parsed.url, allow_redirects=False) as response:
                return f"HTTP {response.status}"
        address = parsed.host
        if not _literal(address):  # a name: through the agent's resolver, as the probes resolve
            addresses = await self._resolver.resolve(parsed.host, parsed.port)
            if not addresses:
                raise OSError(f"{parsed.host} has no address")
            address = addresses[0]["host"]
        _, writer = await asyncio.open_connection(address, parsed.port)
        writer.close()
        with contextlib.suppress(OSError):  # connected is all we wanted; a reset on close changes nothing
            await writer.wait_closed()
        return f"connected to {address}:{parsed.port}"
