"""YAML anchors and aliases over a parser's event stream: each anchored value's events recorded, replayed for an alias.

The YAML reader builds data straight from parser events, not from a composed node tree,
so an alias has no node to point at: the events of each anchored value are kept instead,
and an alias is read again from them. Where the next event comes from (the parser, or a
recorded value) is this module's business; what is built from the events is
:mod:`sitewatch.config.yamltree`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

from yaml.composer import ComposerError
from yaml.error import Mark
from yaml.events import AliasEvent, CollectionEndEvent, Event, NodeEvent

__all__ = ["AnchoredEvents", "Next", "as_mark"]

#: Where a value's further events come from: the parser, or the recording of an anchored value.
Next = Callable[[], Event]


def as_mark(mark: Any) -> Mark | None:
    """A mark as PyYAML's errors and nodes are typed to take it (libyaml's has the same fields)."""
    return cast("Mark | None", mark)


class AnchoredEvents:
    """One YAML stream's events from the parser, with the anchored values recorded so aliases can replay them."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        #: The events of each complete anchored value of the current document, by anchor name.
        self.anchors: dict[str, list[Event]] = {}
        #: Anchored values still being read: every event from the parser is appended to each.
        self.recording: dict[str, list[Event]] = {}
        #: One bound method, so "reading from the parser" is an identity test.
        self.live: Next = self._live

    def _live(self) -> Event:
        event: Event = self.loader.get_event()
        if self.recording:
            for events in self.recording.values():
                events.append(event)
        return event

    @staticmethod
    def items(next_event: Next) -> Iterator[Event]:
        """The first event of each entry of a collection, up to the collection's end."""
        while not isinstance(event := next_event(), CollectionEndEvent):
            yield event

    def replay(self, alias: AliasEvent) -> tuple[NodeEvent, Next]:
        """The aliased value's first event, and where the rest of its events come from."""
        name = alias.anchor or ""
        if name in self.recording:
            raise ComposerError(None, None, f"found an alias inside its own anchor {name!r}", as_mark(alias.start_mark))
        events = self.anchors.get(name)
        if events is None:
            raise ComposerError(None, None, f"found undefined alias {name!r}", as_mark(alias.start_mark))
        rest = iter(events)
        first = next(rest)
        assert isinstance(first, NodeEvent)
        return first, rest.__next__

    def open_anchor(self, event: NodeEvent, next_event: Next) -> str | None:
        """Start recording an anchored value read from the parser; its name (None: no anchor)."""
        name = event.anchor
        if name is None or next_event is not self.live:  # a replayed anchor was registered when read
            return None
        first = self.anchors.get(name) or self.recording.get(name)
        if first:
            raise ComposerError(
                f"found duplicate anchor {name!r}; first occurrence",
                as_mark(first[0].start_mark),
                "second occurrence",
                as_mark(event.start_mark),
            )
        self.recording[name] = [event]
        return name

    def close_anchor(self, name: str | None) -> None:
        """The anchored value is complete: aliases may now refer to it."""
        if name is not None:
            self.anchors[name] = self.recording.pop(name)
