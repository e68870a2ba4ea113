"""The running agent: the wiring and lifetime (``core``), its web side (``webside``), the
periodic background loops (``loops``), the watch over its own network (``network``) and how it
stops (``shutdown``)."""

from __future__ import annotations

from sitewatch.agent.core import STALL_SECONDS, Agent

__all__ = ["STALL_SECONDS", "Agent"]
