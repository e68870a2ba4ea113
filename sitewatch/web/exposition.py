"""``/metrics``: the per-check bulk rendered by the collector, the agent-wide and process families by prometheus_client.

The result is the same text the library makes of :func:`sitewatch.web.registry.build_registry`,
in either format ``Accept`` chooses, at a fraction of the CPU.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder

from sitewatch.web.metrics import SitewatchCollector
from sitewatch.web.registry import _Fixed

__all__ = ["Exposition"]


class Exposition:
    """Renders ``/metrics``: the per-check bulk by :meth:`SitewatchCollector.per_check_text`,
    the agent-wide, process and platform families through prometheus_client.

    The result is the same text the library makes of :func:`build_registry`, in
    either format ``Accept`` chooses, at a fraction of the CPU.
    """

    def __init__(self, collector: SitewatchCollector) -> None:
        self.collector = collector
        self._tail = CollectorRegistry(auto_describe=False)
        self._tail.register(_Fixed(collector.agent_families))
        ProcessCollector(registry=self._tail)
        PlatformCollector(registry=self._tail)

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """``(body, content type)`` for a scrape sending ``accept``."""
        chunks, content_type = self.render_chunks(accept)
        return b"".join(chunks), content_type

    def render_chunks(self, accept: str = "") -> tuple[Iterator[bytes], str]:
        """The body as one chunk per family (for a streamed response), and its content type."""
        encoder, content_type = choose_encoder(accept)
        openmetrics = content_type.startswith("application/openmetrics-text")

        def chunks() -> Iterator[bytes]:
            # CPU time of this thread while making the chunks: not the waits for the scraper or
            # other processes holding the CPU (on a busy small server, wall time says more about
            # the neighbours than about the renderer).
            spent, started = 0.0, time.thread_time()
            for text in self.collector.per_check_chunks(openmetrics):
                data = text.encode()
                spent += time.thread_time() - started
                yield data
                started = time.thread_time()
            data = encoder(self._tail)
            self.collector.last_render_seconds = spent + time.thread_time() - started
            yield data

        return chunks(), content_type
