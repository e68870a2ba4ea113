"""What the web library says about the agent's listener, as one rate-limited event line per fault.

aiohttp logs each malformed request (an 8 KB URL, a 1 MB header, 20,000 headers) with a
ten-line traceback on its ``aiohttp.server`` logger, which nothing in the agent handles,
so the traceback went raw to stderr — a few requests a second filled the journal. The
listener's handler is given its own logger instead: a malformed request becomes one
``http_bad_request`` event with the reason, at most :data:`BAD_REQUESTS_PER_MINUTE` a
minute (the next one says how many were left out); anything else the library reports
about a request (a bug in a handler) stays an error event with its traceback.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable

from aiohttp.http_exceptions import HttpProcessingError

from sitewatch.logs import event

__all__ = ["BAD_REQUESTS_PER_MINUTE", "RateLimit", "listener_logger"]

#: Malformed requests logged per minute; the rest are counted and reported with the next one.
BAD_REQUESTS_PER_MINUTE = 10
_REASON_MAX = 120


class RateLimit:
    """At most ``per_minute`` events per rolling minute; counts what it holds back."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._window_start = -60.0
        self._in_window = 0
        self.suppressed = 0

    def allow(self) -> bool:
        """True when the next event may be logged; otherwise count it as suppressed."""
        now = self._clock()
        if now - self._window_start >= 60:
            self._window_start, self._in_window = now, 0
        if self._in_window < self.per_minute:
            self._in_window += 1
            return True
        self.suppressed += 1
        return False

    def take_suppressed(self) -> int:
        """How many were held back since the last call (and reset the count)."""
        count, self.suppressed = self.suppressed, 0
        return count


def _printable(text: str) -> str:
    # A reason quotes the request's own bytes: keep it one short printable line.
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat[:_REASON_MAX]


class _ListenerHandler(logging.Handler):
    """Turns aiohttp's server records into sitewatch events."""

    def __init__(self, log: logging.Logger, limit: RateLimit) -> None:
        super().__init__()
        self.log = log
        self.limit = limit

    def emit(self, record: logging.LogRecord) -> None:
        """One event per record; malformed requests rate-limited and without a traceback."""
        exc = record.exc_info[1] if record.exc_info else None
        peer = str(record.args[0]) if isinstance(record.args, tuple) and record.args else ""
        if isinstance(exc, HttpProcessingError):
            if record.levelno < logging.WARNING:
                return  # aiohttp's own verdict: noise (TLS or other protocols on the HTTP port)
            if not self.limit.allow():
                return
            # aiohttp puts the offending bytes after a colon: the attacker's text stays out of the log.
            said = (exc.message or "").split(":", 1)[0]
            reason = f"{type(exc).__name__}: {said}" if said else type(exc).__name__
            fields: dict[str, object] = {"status": exc.code, "reason": _printable(reason)}
            if peer:
                fields["peer"] = peer
            if suppressed := self.limit.take_suppressed():
                fields["suppressed"] = suppressed
            event(self.log, logging.WARNING, "http_bad_request", **fields)
            return
        if record.levelno < logging.WARNING:
            return
        extra: dict[str, object] = {"message": _printable(record.getMessage())}
        if record.exc_info and record.exc_info[0] is not None:
            extra["error"] = _printable(f"{type(exc).__name__}: {exc}")
            extra["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        event(self.log, logging.ERROR, "web_error", **extra)


def listener_logger(log: logging.Logger, limit: RateLimit | None = None) -> logging.Logger:
    """A logger for aiohttp's request handler that reports through ``log`` as events.

    Not registered under a name: it belongs to one server, and nothing else may attach to it.
    """
    logger = logging.Logger("aiohttp.server", logging.INFO)
    logger.propagate = False
    logger.addHandler(_ListenerHandler(log.getChild("web"), limit or RateLimit(BAD_REQUESTS_PER_MINUTE)))
    return logger
