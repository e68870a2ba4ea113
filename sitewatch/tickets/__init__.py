"""Ticket sinks and the outbox that delivers to them."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Sink", "SinkError"]


class SinkError(Exception):
    """A delivery failed; ``permanent`` ones (bad request, auth) go to the dead letters."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


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
