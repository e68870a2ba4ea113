"""Phase timings in the style of blackbox_exporter: resolve, connect, tls, processing, transfer.

The timer of the probe in progress travels in a context variable, so the resolver, the
connector and the lean exchange add to it without being handed it.
"""

from __future__ import annotations

import contextvars
import time

__all__ = ["PhaseTimer", "current_timer", "measure_phases"]


class PhaseTimer:
    """Accumulates phase durations (seconds) over every request made while active.

    Phases follow blackbox_exporter: ``resolve``, ``connect``, ``tls``,
    ``processing`` (connection ready → response headers) and ``transfer``
    (headers → body read, reported by :meth:`body_done`). A plain slotted class:
    one is made per probe, and a dataclass with factories cost ~1 % of the agent.
    """

    __slots__ = ("_marks", "peer", "phases", "stage")

    def __init__(self) -> None:
        self.phases: dict[str, float] = {"resolve": 0.0, "connect": 0.0, "tls": 0.0, "processing": 0.0, "transfer": 0.0}
        self._marks: dict[str, float] = {}
        #: Where the current request is, in words, for "timed out while …" messages.
        self.stage = "starting"
        #: The address the latest connection reached (redirect policy compares hops against it).
        self.peer: str | None = None

    def _mark(self, name: str) -> None:
        self._marks[name] = time.perf_counter()

    def _add_since(self, phase: str, mark: str) -> None:
        start = self._marks.pop(mark, None)
        if start is not None:
            self.phases[phase] += time.perf_counter() - start

    def body_done(self) -> None:
        """Mark the end of reading a response body (closes the transfer phase)."""
        self._add_since("transfer", "headers")
        self.stage = "done"

    @property
    def total(self) -> float:
        """Sum of all phases."""
        return sum(self.phases.values())


_timer: contextvars.ContextVar[PhaseTimer | None] = contextvars.ContextVar("sitewatch_timer", default=None)


def current_timer() -> PhaseTimer | None:
    """The phase timer of the enclosing :func:`measure_phases` block, if any."""
    return _timer.get()


class measure_phases:  # lower case: it reads as the function it replaced, ``with measure_phases() as t``
    """Time every request made inside the block; yields the accumulating timer.

    A class, not a generator context manager: it is entered once per probe.
    """

    __slots__ = ("_timer", "_token")

    def __init__(self) -> None:
        self._timer = PhaseTimer()

    def __enter__(self) -> PhaseTimer:
        self._token = _timer.set(self._timer)
        return self._timer

    def __exit__(self, *exc: object) -> None:
        _timer.reset(self._token)
