"""Read YAML config files into plain data while remembering where every value came from.

The result is ordinary dicts and lists plus a :class:`SourceMap` from key paths to
``file:line``, so that validation errors found later can point at the exact line.
``${VAR}`` and ``${file:/path}`` are substituted here; the paths of substituted
values are remembered as secret so no error message ever echoes them.
"""

from __future__ import annotations

import re
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import yaml
from yaml.composer import ComposerError
from yaml.error import Mark
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from sitewatch.config.secrets import lookup
from sitewatch.config.sourcemap import KeyPath, Origin, Problem, SourceMap, format_path

__all__ = ["PLACEHOLDER", "load_yaml_tree"]

#: What stands for a secret that was not looked up: long enough for any length rule, never shown.
PLACEHOLDER = "sitewatch-unresolved-secret-0000000000000000"


try:  # the C loader is ~10x faster on big configs; fall back when libyaml is absent
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

# One level of nesting, so systemd's ``${file:${CREDENTIALS_DIRECTORY}/token}`` reads as written.
_SUBST = re.compile(r"\$\$|\$\{((?:[^{}]|\$\{[^{}]*\})*)\}")


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_Next = Callable[[], Event]


def _line(event: Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 1


def _mark(mark: Any) -> Mark | None:
    """A mark as PyYAML's errors and nodes are typed to take it (libyaml's has the same fields)."""
    return cast("Mark | None", mark)


class _Tree:
    """Turns the parser events of one YAML stream into data, recording origins and problems.

    Data is built straight from the parser's events, not from a composed node tree:
    the tree (a node and two marks per value) of a 10,000-site config cost more time
    and memory than the data itself, and all of it lived until the data was complete.
    An anchored value keeps its events, so an alias is built again at its own key path
    (its own origins and secrets), as the node it stands for was.
    """

    def __init__(self, file: str, smap: SourceMap, problems: list[Problem], loader: Any) -> None:
        self.file = file
        self.smap = smap
        self.problems = problems
        self.loader = loader
        self.constructor = yaml.constructor.SafeConstructor()
        #: The events of each complete anchored value of the current document, by anchor name.
        self.anchors: dict[str, list[Event]] = {}
        #: Anchored values still being read: every event from the parser is appended to each.
        self.recording: dict[str, list[Event]] = {}
        self.lines: dict[int, Origin] = {}
        #: One bound method, so "reading from the parser" is an identity test.
        self.live: _Next = self._live
        resolvers = loader.yaml_implicit_resolvers
        # A plain scalar whose first character no implicit resolver claims is a string:
        # skipping the resolver's regular expressions for those is most of the scalars.
        self.claimed: frozenset[str] | None = (
            None if None in resolvers or loader.yaml_path_resolvers else frozenset(k for k in resolvers if k)
        )

    # -- events ------------------------------------------------------------------------

    def _live(self) -> Event:
        event: Event = self.loader.get_event()
        if self.recording:
            for events in self.recording.values():
                events.append(event)
        return event

    def origin(self, event: Event) -> Origin:
        """Where ``event`` starts; one shared Origin per line (a line often holds several values)."""
        line = _line(event)
        found = self.lines.get(line)
        if found is None:
            found = self.lines[line] = Origin(self.file, line)
        return found

    @staticmethod
    def items(next_event: _Next) -> Iterator[Event]:
        """The first event of each entry of a collection, up to the collection's end."""
        while not isinstance(event := next_event(), CollectionEndEvent):
            yield event

    def replay(self, alias: AliasEvent) -> tuple[NodeEvent, _Next]:
        """The aliased value's first event, and where the rest of its events come from."""
        name = alias.anchor or ""
        if name in self.recording:
            raise ComposerError(None, None, f"found an alias inside its own anchor {name!r}", _mark(alias.start_mark))
        events = self.anchors.get(name)
        if events is None:
            raise ComposerError(None, None, f"found undefined alias {name!r}", _mark(alias.start_mark))
        rest = iter(events)
        first = next(rest)
        assert isinstance(first, NodeEvent)
        return first, rest.__next__

    def open_anchor(self, event: NodeEvent, next_event: _Next) -> str | None:
        """Start recording an anchored value read from the parser; its name (None: no anchor)."""
        name = event.anchor
        if name is None or next_event is not self.live:  # a replayed anchor was registered when read
            return None
        first = self.anchors.get(name) or self.recording.get(name)
        if first:
            raise ComposerError(
                f"found duplicate anchor {name!r}; first occurrence",
                _mark(first[0].start_mark),
                "second occurrence",
                _mark(event.start_mark),
            )
        self.recording[name] = [event]
        return name

    def close_anchor(self, name: str | None) -> None:
        """The anchored value is complete: aliases may now refer to it."""
        if name is not None:
            self.anchors[name] = self.recording.pop(name)

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

    def build(self, event: Event, path: KeyPath, next_event: _Next) -> Any:
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
                value = self._substitute(value, path, event)
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

    def skip(self, event: Event, next_event: _Next) -> None:
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
        node = ScalarNode(tag, event.value, _mark(event.start_mark), _mark(event.end_mark), event.style)
        try:
            return self.constructor.construct_object(node)
        except ValueError:  # a date-shaped "2026-13-01": the text, for the model to refuse with its key and line
            return event.value

    def _mapping(self, path: KeyPath, next_event: _Next) -> dict[str, Any]:
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

    def _substitute(self, text: str, path: KeyPath, event: Event) -> str:
        substituted = False

        def replace(match: re.Match[str]) -> str:
            nonlocal substituted
            if match.group(0) == "$$":
                return "$"
            substituted = True
            ref = match.group(1).strip()
            if self.smap.mode == "offline":
                self.smap.unresolved[path] = "not looked up (--offline)"
                return PLACEHOLDER
            try:
                return lookup(ref, Path(self.file).parent)
            except LookupError as exc:
                # A placeholder stands in, so the rest validates as if the secret were there: the
                # loader reports the reason once, and no knock-on error (too short, "set pat:").
                self.smap.unresolved[path] = str(exc)
                return PLACEHOLDER

        value = _SUBST.sub(replace, text)
        if substituted:
            self.smap.secrets.add(path)
        return value

    def _problem(self, event: Event, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.origin(event), format_path(path), message))


def load_yaml_tree(path: Path, smap: SourceMap, problems: list[Problem], prefix: KeyPath = ()) -> Any:
    """Parse one file into data under ``prefix``; syntax errors become problems."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(Problem(Origin(name, 1), "", f"cannot read file ({exc.strerror or exc})"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(Origin(name, 1), "", f"file is not UTF-8 text ({exc.reason})"))
        return None
    if _world_writable(path):
        problems.append(
            Problem(
                Origin(name, 1),
                "",
                "file is world-writable: anyone on this server could change what is probed and where tickets go;"
                f" run `chmod o-w {name}`",
            )
        )
        return None
    found: list[Problem] = []  # kept only if the whole stream is valid YAML, as before
    loader = _Loader(text)
    try:
        data, second = _read(_Tree(name, smap, found, loader), loader, prefix)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        message = f"invalid YAML: {exc.problem or exc.context}"
        if exc.context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
            message += f" ({exc.context} on line {exc.context_mark.line + 1})"
        problems.append(Problem(Origin(name, line), "", message))
        return None
    except yaml.YAMLError as exc:  # pragma: no cover - reader errors without marks
        problems.append(Problem(Origin(name, 1), "", f"invalid YAML: {exc}"))
        return None
    finally:
        loader.dispose()
    if data is _EMPTY:
        problems.append(Problem(Origin(name, 1), "", "file is empty (expected a mapping with sites:)"))
        return None
    if second is not None:
        problems.append(Problem(Origin(name, second), "", "expected one YAML document, found several (remove ---)"))
    problems += found
    return data


_EMPTY = object()


def _read(tree: _Tree, loader: Any, prefix: KeyPath) -> tuple[Any, int | None]:
    """The first document's data (``_EMPTY`` when there is none) and the line of a second one.

    Every document is read, so that a syntax error anywhere in the file is reported.
    """
    loader.get_event()  # StreamStartEvent
    if loader.check_event(StreamEndEvent):
        return _EMPTY, None
    data = tree.document(prefix)
    second = None
    while not loader.check_event(StreamEndEvent):
        line = tree.skip_document()
        second = line if second is None else second
    return data, second


def _world_writable(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & stat.S_IWOTH)
    except OSError:  # pragma: no cover - it was just read
        return False
