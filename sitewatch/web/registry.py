"""The prometheus_client registry wiring of ``/metrics``: the whole-library registry and a fixed-families collector.

:func:`build_registry` renders everything through the library, the reference the fast path of
:mod:`sitewatch.web.exposition` is tested against; :class:`_Fixed` lets the fast path hand the
library a few families of its own (a header, the agent-wide tail). Separate so the line renderer
and the exposition can use it without importing the collector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from sitewatch.web.metrics import SitewatchCollector

__all__ = ["build_registry"]


class _Fixed(Collector):
    """A collector that yields the families it was given (headers, the agent-wide tail)."""

    def __init__(self, families: Iterable[Metric] | Callable[[], Iterable[Metric]]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        """The families, fresh if a callable was given."""
        families = self._families() if callable(self._families) else self._families
        yield from families

    def describe(self) -> Iterator[Metric]:
        """Nothing up front."""
        return iter(())


def build_registry(collector: SitewatchCollector) -> CollectorRegistry:
    """A fresh registry with the sitewatch collector plus process and platform metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
