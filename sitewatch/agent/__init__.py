"""The running agent: the wiring and lifetime (``core``), its web side (``webside``), the
periodic background loops (``loops``) and the watch over its own network (``network``)."""

from __future__ import annotations

from sitewatch.agent.core import STALL_SECONDS, Agent

__all__ = ["STALL_SECONDS", "Agent"]
