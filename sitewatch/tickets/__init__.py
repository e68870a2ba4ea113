"""Ticket sinks and the outbox that delivers to them."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Notifier", "Sink", "SinkError"]


class SinkError(Exception):
    """A delivery failed; ``permanent`` ones (bad request, auth) go to the dead letters."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        #: The earliest retry the far end asked for (a 429's Retry-After), in seconds.
        self.retry_after = retry_after


class Sink(Protocol):
    """One service desk. Every method may raise :class:`SinkError`."""

    name: str

    async def find_open(self, key: str) -> str | None:
        """The reference of an open ticket carrying ``key``, if the desk has one."""

    async def open(self, payload: dict[str, Any]) -> str:
        """Create a ticket; return its reference."""

    async def update(self, ref: str, payload: dict[str, Any]) -> None:
        """Comment on (and perhaps re-prioritise) a ticket."""

    async def resolve(self, ref: str, payload: dict[str, Any]) -> None:
        """Comment with the recovery and resolve the ticket."""


@runtime_checkable
class Notifier(Protocol):
    """An escalation target (a chat, a mailbox, a webhook): it receives ``notify`` rows of the outbox."""

    name: str

    async def notify(self, payload: dict[str, Any]) -> None:
        """Send a step's message, or (``payload["notice"]``) edit the ones sent after an ack or resolve."""
