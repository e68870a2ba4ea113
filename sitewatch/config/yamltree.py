"""The data of one YAML document built from parser events, with the origin of every value and its problems.

Scalars are tagged and constructed as PyYAML's safe loader does, mappings refuse duplicate,
merge and non-string keys, and each value's key path gets its ``file:line`` in the
:class:`SourceMap`. Reading the file and turning syntax errors into problems is
:mod:`sitewatch.config.yamlsource`'s; anchors and aliases are :mod:`sitewatch.config.yamlanchors`'.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)
from yaml.nodes import ScalarNode

from sitewatch.config.secrets import substitute
from sitewatch.config.sourcemap import KeyPath, Origin, Problem, SourceMap, format_path
from sitewatch.config.yamlanchors import AnchoredEvents, Next, as_mark

__all__ = ["Tree"]


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


def _line(event: Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 1


class Tree(AnchoredEvents):
    """Turns the parser events of one YAML stream into data, recording origins and problems.

    Data is built straight from the parser's events, not from a composed node tree:
    the tree (a node and two marks per value) of a 10,000-site config cost more time
    and memory than the data itself, and all of it lived until the data was complete.
    An anchored value keeps its events, so an alias is built again at its own key path
    (its own origins and secrets), as the node it stands for was.
    """

    def __init__(self, file: str, smap: SourceMap, problems: list[Problem], loader: Any) -> None:
        super().__init__(loader)
        self.file = file
        self.smap = smap
        self.problems = problems
        self.constructor = yaml.constructor.SafeConstructor()
        self.lines: dict[int, Origin] = {}
        resolvers = loader.yaml_implicit_resolvers
        # A plain scalar whose first character no implicit resolver claims is a string:
        # skipping the resolver's regular expressions for those is most of the scalars.
        self.claimed: frozenset[str] | None = (
            None if None in resolvers or loader.yaml_path_resolvers else frozenset(k for k in resolvers if k)
        )

    def origin(self, event: Event) -> Origin:
        """Where ``event`` starts; one shared Origin per line (a line often holds several values)."""
        line = _line(event)
        found = self.lines.get(line)
        if found is None:
            found = self.lines[line] = Origin(self.file, line)
        return found

    # -- documents ---------------------------------------------------------------------

    def document(self, prefix: KeyPath) -> Any:
        """Build the stream's next document under ``prefix``."""
        self.live()  # DocumentStartEvent
        value = self.build(self.live(), prefix, self.live)
        self.live()  # DocumentEndEvent
        self.anchors.clear()  # anchors are scoped to their document
        return value

    def skip_document(self) -> int:
        """Read the stream's next document without building it; the line of its first value."""
        self.live()
        first = self.live()
        self.skip(first, self.live)
        self.live()
        self.anchors.clear()
        return _line(first)

    # -- values ------------------------------------------------------------------------

    def build(self, event: Event, path: KeyPath, next_event: Next) -> Any:
        """The value starting with ``event``; its further events come from ``next_event``."""
        if isinstance(event, AliasEvent):
            event, next_event = self.replay(event)
        assert isinstance(event, NodeEvent)
        self.smap.origins[path] = self.origin(event)
        anchor = None if event.anchor is None else self.open_anchor(event, next_event)
        value: Any
        if isinstance(event, ScalarEvent):
            tag = self.tag(event)
            value = self.scalar(event, tag)
            if tag == _STR and "$" in value:
                value = substitute(value, path, self.smap, self.file)
            elif tag == _STR:
                # A value repeated across sites (`type: http`, an interval, a marker) is then one
                # string in the data and in the config built from it, not one per site.
                value = sys.intern(value)
        elif isinstance(event, MappingStartEvent):
            value = self._mapping(path, next_event)
        else:
            value = [self.build(item, (*path, i), next_event) for i, item in enumerate(self.items(next_event))]
        if anchor is not None:
            self.close_anchor(anchor)
        return value

    def skip(self, event: Event, next_event: Next) -> None:
        """Read past a value that is not kept, still checking its anchors and aliases."""
        if isinstance(event, AliasEvent):
            self.replay(event)  # an undefined alias is an error here too
            return
        assert isinstance(event, NodeEvent)
        anchor = self.open_anchor(event, next_event)
        if isinstance(event, CollectionStartEvent):
            for item in self.items(next_event):
                self.skip(item, next_event)
        self.close_anchor(anchor)

    def tag(self, event: ScalarEvent) -> str:
        """The scalar's tag, resolved as PyYAML's composer resolves it."""
        tag = event.tag
        if tag is not None and tag != "!":
            return tag
        value, claimed = event.value, self.claimed
        if claimed is not None and (not event.implicit[0] or (value and value[0] not in claimed)):
            return _STR
        resolved: str = self.loader.resolve(ScalarNode, value, event.implicit)
        return resolved

    def scalar(self, event: ScalarEvent, tag: str) -> Any:
        """The scalar's value, as PyYAML's safe constructor makes it."""
        if tag == _STR:
            return event.value
        node = ScalarNode(tag, event.value, as_mark(event.start_mark), as_mark(event.end_mark), event.style)
        try:
            return self.constructor.construct_object(node)
        except ValueError:  # a date-shaped "2026-13-01": the text, for the model to refuse with its key and line
            return event.value

    def _mapping(self, path: KeyPath, next_event: Next) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while not isinstance(first := next_event(), CollectionEndEvent):
            key_event, key_next = self.replay(first) if isinstance(first, AliasEvent) else (first, next_event)
            assert isinstance(key_event, NodeEvent)
            anchor = None if key_event.anchor is None else self.open_anchor(key_event, key_next)
            key: Any
            if isinstance(key_event, ScalarEvent):
                tag = self.tag(key_event)
                key = None if tag == _MERGE else self.scalar(key_event, tag)
            else:  # a mapping or list as a key: PyYAML's constructor makes it an empty one
                tag = ""
                for item in self.items(key_next):
                    self.skip(item, key_next)
                key = {} if isinstance(key_event, MappingStartEvent) else []
            if anchor is not None:
                self.close_anchor(anchor)
            value_event = next_event()
            if tag == _MERGE:
                self._problem(key_event, path, "YAML merge keys (<<) are not supported; write the keys out")
            elif not isinstance(key, str):
                self._problem(key_event, path, f"keys must be strings, got {key!r}")
            elif key in out:
                self._problem(key_event, (*path, key), "duplicate key (the first one would be silently ignored)")
            else:
                # One string per distinct key (`name`, `url`, `checks` … of 10,000 sites), not one per
                # occurrence: the data and every key path below it share it (~3 MB at a reload's peak).
                key = sys.intern(key)
                out[key] = self.build(value_event, (*path, key), next_event)
                continue
            self.skip(value_event, next_event)
        return out

    def _problem(self, event: Event, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.origin(event), format_path(path), message))
