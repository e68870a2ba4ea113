"""Process-wide tuning of the real agent (``sitewatch run``): the event loop it runs on, the garbage collector.

Tests and ``sitewatch probe`` leave the process as it is: the collector is only frozen
and paused for an agent built with ``freeze_gc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import os
from collections.abc import Callable, Iterator

from sitewatch.logs import event

__all__ = ["GC_YOUNG_THRESHOLD", "collector_paused", "freeze_long_lived", "loop_factory"]

#: Allocations between collections of the youngest generation in ``sitewatch run`` (Python's default: 700).
GC_YOUNG_THRESHOLD = 20_000


def loop_factory(log: logging.Logger) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when ``SITEWATCH_LOOP=uvloop`` asks for it (and it is installed), else None.

    asyncio's own loop is the default because it measured cheaper: in bench/fleet.py
    (1,000 probes/s, fresh connections, 10 % TLS) uvloop cost about 8 % more CPU per
    probe. The switch stays so that the comparison can be repeated on other machines.
    """
    if os.environ.get("SITEWATCH_LOOP", "asyncio") != "uvloop":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        event(log, logging.WARNING, "uvloop_missing", hint="pip install uvloop, or unset SITEWATCH_LOOP")
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def freeze_long_lived() -> None:
    """Hide the long-lived objects (config, checks, schedule) from the cyclic garbage collector.

    With 10,000 checks they are about a million objects, and every full
    collection walked them all: 100-200 ms with the event loop stopped, the
    worst of the scheduling lag. Frozen objects are still freed by reference
    counting when a reload drops them (a dropped 10,000-check config leaves no
    cyclic garbage: measured), so a reload collects only what is new since the
    last freeze instead of unfreezing everything (which cost ~0.3 s per reload).
    Only the real agent (``sitewatch run``, ``freeze_gc``) does this: it changes the whole
    process, which in tests is pytest's.

    The youngest generation is also collected every 20,000 allocations
    instead of 700: each probe allocates a few hundred short-lived objects,
    almost all freed by reference counting, and collecting them every few
    probes cost ~10 % of the agent's CPU at 1,000 probes/s (measured:
    0.40 → 0.36 ms per probe, same RSS).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


@contextlib.contextmanager
def collector_paused(enabled: bool) -> Iterator[None]:
    """Pause the cyclic garbage collector while a reload builds and applies the new config.

    The new config is hundreds of thousands of fresh objects: the collector's young
    generations filled up again and again while it was built, and after a freeze
    (little left in the tracked generations) each fill also set off a full collection
    of everything built so far, about half the CPU a 10,000-check load took. A config
    leaves no cyclic garbage, and the :func:`freeze_long_lived` after it collects once. Only the
    real agent (``freeze_gc``) does this, for the same reason as the freeze.
    """
    if not (enabled and gc.isenabled()):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
