"""TLS sessions one check resumes between its probes, and when it must not.

A resumed handshake skips the certificate: the server proves it holds the secret of a
session this agent opened with a full handshake, in which the chain was verified against
the CA store, the name and the clock. What a resumed probe reports about the certificate
(``probe_ssl_earliest_cert_expiry``) is therefore what that full handshake saw, and the
policy below bounds how old that proof may be. A full handshake is forced when:

* there is no session for this server name, port, peer **address** and verification
  setting (a changed address, e.g. a DNS move or a failover, is a new server);
* :data:`FULL_EVERY` probes have passed since the last full one (``FULL_EVERY - 1``
  resumptions at most), or :data:`MAX_AGE` seconds, whichever comes first;
* the certificate the last full handshake verified has expired by the clock: the full
  handshake then fails verification as it should;
* the previous probe failed in any way (its session is dropped);
* the server declines the session (a restart or a reload with new ticket keys, which is how
  nginx and most servers pick up a new certificate): that handshake is a full one and
  reports the new chain at once.

So a certificate replaced on a server that still accepts the old sessions shows in the
expiry at the latest at the forced full handshake: within ``FULL_EVERY`` probes or
``MAX_AGE`` seconds. The ``tls`` check never resumes.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any

from sitewatch.net.tlsoffer import CompactSession, compact

__all__ = ["FULL_EVERY", "MAX_AGE", "TlsSessions", "chain_expiry"]

#: A full handshake at least every this many probes of one server (1 = never resume).
FULL_EVERY = 10
#: … and at least this often (seconds since the last full handshake).
MAX_AGE = 300.0
#: Servers remembered per check: its own and a few redirect targets.
_KEYS = 4

SessionKey = tuple[str, int, str, bool]


class _Held:
    """A resumable session and what its full handshake proved."""

    __slots__ = ("expiry", "resumed", "session", "verified_at")

    def __init__(self, session: ssl.SSLSession | CompactSession, expiry: float | None, verified_at: float) -> None:
        self.session = session
        self.expiry = expiry  # earliest notAfter (unix seconds) of the chain that handshake received
        self.verified_at = verified_at  # monotonic time of that full handshake
        self.resumed = 0  # resumptions since


class TlsSessions:
    """The sessions of one check, keyed by (server name, port, peer address, verify)."""

    __slots__ = ("_held", "clock", "full_every", "max_age", "wall")

    def __init__(
        self,
        full_every: int = FULL_EVERY,
        max_age: float = MAX_AGE,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._held: dict[SessionKey, _Held] = {}
        self.full_every = full_every
        self.max_age = max_age
        self.clock = clock  # measures a session's age
        self.wall = wall  # compared with the certificate's notAfter

    def offer(self, key: SessionKey) -> ssl.SSLSession | CompactSession | None:
        """The session to offer for ``key``, or None when the policy wants a full handshake."""
        held = self._held.get(key)
        if held is None:
            return None
        if (
            held.resumed + 1 >= self.full_every
            or self.clock() - held.verified_at >= self.max_age
            or (held.expiry is not None and self.wall() >= held.expiry)
        ):
            del self._held[key]
            return None
        return held.session

    def keep(self, key: SessionKey, sslobj: ssl.SSLObject) -> float | None:
        """Record a completed probe's session; the certificate expiry it stands for.

        A resumed handshake keeps the expiry (and the clock) of the full one it descends
        from; a full handshake reads the chain the server just sent.
        """
        held = self._held.get(key)
        if sslobj.session_reused and held is not None:
            # The session offered is kept, not this connection's (TLS 1.3 hands out new tickets,
            # and servers accept an old one again until its lifetime ends): ``ssl`` copies a
            # session through DER on every read of ``SSLObject.session``, certificates included,
            # ~0.1 ms of CPU that a resumed probe is there to save.
            held.resumed += 1
            return held.expiry
        session = compact(sslobj) or sslobj.session  # without the certificate where possible: 1/5 the memory
        expiry = chain_expiry(sslobj)
        if session is not None:
            if len(self._held) >= _KEYS and key not in self._held:
                self._held.pop(next(iter(self._held)))
            self._held[key] = _Held(session, expiry, self.clock())
        return expiry

    def forget(self, key: SessionKey) -> None:
        """Drop ``key``'s session: the next probe of that server does a full handshake."""
        self._held.pop(key, None)

    def clear(self) -> None:
        """Drop every session (the check failed: its next probe proves everything afresh)."""
        self._held.clear()


def chain_expiry(sslobj: ssl.SSLObject) -> float | None:
    """Earliest notAfter (unix seconds) of the certificates the server sent in this handshake.

    Python 3.11 has the chain only as a private method (public from 3.13); without it, the
    leaf's notAfter when it was verified, else None.
    """
    inner: Any = getattr(sslobj, "_sslobj", None)
    chain = getattr(inner, "get_unverified_chain", None)
    try:
        infos: list[Any] = [cert.get_info() for cert in chain()] if chain is not None else [sslobj.getpeercert()]
        return min(ssl.cert_time_to_seconds(str(info["notAfter"])) for info in infos if info and "notAfter" in info)
    except (ValueError, TypeError, ssl.SSLError):
        return None
