"""Basic-auth passwords checked against bcrypt hashes off the event loop, alike in time for every user.

bcrypt is slow on purpose (about 50 ms at cost 10). Run on the event loop, a few wrong
passwords a second stalled every other request, ``/metrics`` included; a user not in the
file was answered at once, so timing told which names exist; and bcrypt 5 raises on a
password over 72 bytes, which became a 500. Here every verification runs in a small pool of
its own threads (bcrypt releases the GIL), an unknown user is verified against a dummy hash
of the same cost, an over-long password is verified (truncated) and then refused, and a
successful verification is remembered by a SHA-256 of user, password and hash, as
Prometheus' exporter-toolkit does, so a scraper pays bcrypt once, not every 15 s.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import bcrypt

__all__ = ["MAX_PASSWORD_BYTES", "Passwords"]

#: bcrypt reads at most this many bytes of a password; longer ones are refused, never truncated.
MAX_PASSWORD_BYTES = 72
#: Threads for bcrypt: enough that one slow check does not queue a good one, few enough to bound the CPU.
POOL_THREADS = 2
_CACHE_MAX = 1024
_DEFAULT_COST = 10


def _checkpw(password: bytes, hashed: bytes) -> bool:
    """bcrypt's verification (a module-level name, so tests can count calls)."""
    return bcrypt.checkpw(password, hashed)


@functools.cache
def _dummy_hash(cost: int) -> bytes:
    """A hash nobody knows the password of, at ``cost``: what an unknown user is checked against."""
    return bcrypt.hashpw(secrets.token_hex(16).encode(), bcrypt.gensalt(rounds=cost))


def _cost(hashed: bytes) -> int:
    try:
        return int(hashed.split(b"$")[2])  # $2y$10$...
    except (IndexError, ValueError):
        return _DEFAULT_COST


def _verify(password: bytes, hashed: bytes | None, cost: int) -> bool:
    """In a pool thread: the same bcrypt work whether or not the user exists or the password is too long."""
    target = hashed if hashed is not None else _dummy_hash(cost)
    try:
        matched = _checkpw(password[:MAX_PASSWORD_BYTES], target)
    except ValueError:  # a hash bcrypt cannot read
        matched = False
    return matched and hashed is not None and len(password) <= MAX_PASSWORD_BYTES


class Passwords:
    """The users of a web-config and their bcrypt hashes; :meth:`verify` is safe to await on the loop."""

    def __init__(self, users: Mapping[str, bytes]) -> None:
        self._users = dict(users)
        # Unknown users cost what the dearest real user costs: time says nothing about who exists.
        self._cost = max((_cost(h) for h in self._users.values()), default=_DEFAULT_COST)
        self._verified: set[bytes] = set()
        self._pool: ThreadPoolExecutor | None = None

    async def verify(self, user: str, password: str) -> bool:
        """True when ``user`` is configured and ``password`` matches its hash."""
        hashed = self._users.get(user)
        secret = password.encode("utf-8")
        key = hashlib.sha256(b"\0".join((user.encode("utf-8"), secret, hashed or b""))).digest()
        if hashed is not None and key in self._verified:
            return True
        if self._pool is None:
            self._pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="sitewatch-bcrypt")
        loop = asyncio.get_running_loop()
        matched = await loop.run_in_executor(self._pool, _verify, secret, hashed, self._cost)
        if matched and len(self._verified) < _CACHE_MAX:
            self._verified.add(key)
        return matched

    def close(self) -> None:
        """Stop the pool; queued verifications are dropped (their requests are going away too)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
