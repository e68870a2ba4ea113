"""Every configurable setting is read by some code: a key that validates and then does nothing is a defect.

A past review found a config key that was accepted and then read by nothing. This guard finds every
pydantic model declared under ``sitewatch/config/`` and ``checks/`` by scanning all their modules (so
splitting a module keeps it working) and asks, for each field, whether its name is read anywhere in
``sitewatch/`` or ``checks/`` outside the model's own class body: as an attribute (``x.field``), through
``getattr(x, "field")``, or as a dict key (``d["field"]``, ``d.get("field")``). A read inside the body
counts only within a method or property that is itself read outside (``BackupConfig.kind``); a
validator's read does not. It matches names, not types, so it is a floor: a field it passes may be
read only under another model's name; a field it fails is read by nothing.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pydantic

ROOT = Path(__file__).resolve().parent.parent
#: Where settings models are declared.
MODEL_DIRS = ("sitewatch/config", "checks")
#: Where code that may read them lives.
READER_DIRS = ("sitewatch", "checks")
#: Bases that make a class a settings model; a subclass of a model found here is a model too.
MODEL_BASES = frozenset({"BaseModel", "CheckConfig"})
#: Dict methods whose first string argument reads a key.
KEY_READERS = frozenset({"get", "pop", "setdefault"})
TODO = "TODO unread:"
_Function = ast.FunctionDef | ast.AsyncFunctionDef

#: Fields read generically, so their name is never written next to a read: ``"Model.field": reader``,
#: where the reader is a function (``Class.method`` or ``function``) in sitewatch/ or checks/ that holds
#: the field's name as a string or as a parameter it uses (test_each_allowed_field_is_justified checks
#: both). A setting nothing reads is marked ``TODO unread:`` with what it should do instead.
ALLOWED: dict[str, str] = {
    # readback._meaning loops over ("acknowledged", "waiting", "resolved") with getattr(mapping, state).
    "StatusMap.acknowledged": "_meaning",
    # tickets.factory._fields model_dump()s a desk sink's config into its constructor's keywords
    # (RedmineSink(name, session, **fields)): each field below is a keyword parameter of that __init__.
    "RedmineSinkConfig.project": "RedmineSink.__init__",
    "RedmineSinkConfig.tracker_id": "RedmineSink.__init__",
    "RedmineSinkConfig.key_field_id": "RedmineSink.__init__",
    "RedmineSinkConfig.closed_status_id": "RedmineSink.__init__",
    "RedmineSinkConfig.priority_ids": "RedmineSink.__init__",
    "JiraSinkConfig.project": "JiraSink.__init__",
    "JiraSinkConfig.issue_type": "JiraSink.__init__",
    "JiraSinkConfig.resolve_transition": "JiraSink.__init__",
    "JiraSinkConfig.priority_names": "JiraSink.__init__",
    "RtSinkConfig.queue": "RtSink.__init__",
    "RtSinkConfig.key_field": "RtSink.__init__",
    "RtSinkConfig.priorities": "RtSink.__init__",
    "EmailSinkConfig.sender": "EmailSink.__init__",
    # web-config.yml's http2: only false is valid (the server speaks HTTP/1.1); its validator refuses true.
    "_HttpServer.http2": "_HttpServer._http11_only",
}


@dataclass(frozen=True)
class Field:
    """One field of a settings model, where it is declared."""

    model: str
    name: str
    file: str
    line: int

    @property
    def key(self) -> str:
        """``Model.field``, the allow-list's key."""
        return f"{self.model}.{self.name}"


@dataclass(frozen=True)
class Model:
    """A settings model found in the sources: its fields and the names its own methods read."""

    name: str
    file: str
    first: int
    last: int
    fields: tuple[Field, ...]
    #: Per method or property of the body, the names it reads (they count when it is read outside).
    methods: Mapping[str, frozenset[str]]


@functools.cache
def _tree(text: str) -> ast.Module:
    """``text`` parsed once (the reader lookups walk every module again per allow-list entry)."""
    return ast.parse(text)


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Subscript):  # Generic[...] or ClassVar[...]
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _model(cls: ast.ClassDef, file: str) -> Model:
    fields = tuple(
        Field(cls.name, s.target.id, file, s.lineno)
        for s in cls.body
        if isinstance(s, ast.AnnAssign)
        and isinstance(s.target, ast.Name)
        # pydantic's fields: not ClassVars, private attributes or the model's config
        and not s.target.id.startswith("_")
        and s.target.id != "model_config"
        and _name(s.annotation) != "ClassVar"
    )
    methods = {
        f.name: frozenset(n for node in ast.walk(f) for n in _read_names(node))
        for f in cls.body
        if isinstance(f, _Function)
    }
    return Model(cls.name, file, cls.lineno, cls.end_lineno or cls.lineno, fields, methods)


def find_models(sources: Mapping[str, str]) -> list[Model]:
    """Every class of ``sources`` (file → text) that derives, directly or through others, from a model base."""
    classes = [(f, n) for f, text in sources.items() for n in ast.walk(_tree(text)) if isinstance(n, ast.ClassDef)]
    models: dict[tuple[str, str], Model] = {}
    known = set(MODEL_BASES)
    grew = True
    while grew:  # until none joins: a base may come later in the file, or from another module
        grew = False
        for file, cls in classes:
            if (file, cls.name) not in models and any(_name(b) in known for b in cls.bases):
                models[file, cls.name] = _model(cls, file)
                known.add(cls.name)
                grew = True
    return sorted(models.values(), key=lambda m: (m.file, m.first))


def _read_names(node: ast.AST) -> Iterable[str]:
    """The names ``node`` reads, when it is an attribute load, a getattr or a dict-key read."""
    if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
        yield node.attr
    elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            yield node.slice.value
    elif isinstance(node, ast.Call) and node.args:
        func = node.func
        if _name(func) == "getattr" and len(node.args) > 1:
            key = node.args[1]
        elif isinstance(func, ast.Attribute) and func.attr in KEY_READERS:
            key = node.args[0]
        else:
            return
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            yield key.value


def find_reads(sources: Mapping[str, str]) -> dict[str, list[tuple[str, int]]]:
    """Every name read in ``sources``, with the places (file, line) it is read at."""
    reads: dict[str, list[tuple[str, int]]] = {}
    for file, text in sources.items():
        for node in ast.walk(_tree(text)):
            for name in _read_names(node):
                reads.setdefault(name, []).append((file, getattr(node, "lineno", 0)))
    return reads


def unread_fields(models: Mapping[str, str], readers: Mapping[str, str]) -> list[Field]:
    """The fields of the models declared in ``models`` that nothing in ``readers`` reads outside the model."""
    reads = find_reads(readers)

    def outside(model: Model, name: str) -> bool:
        return any(f != model.file or not model.first <= line <= model.last for f, line in reads.get(name, ()))

    out = []
    for model in find_models(models):
        used = {n for method, names in model.methods.items() if outside(model, method) for n in names}
        out += [f for f in model.fields if f.name not in used and not outside(model, f.name)]
    return out


@functools.cache
def _functions(texts: tuple[str, ...]) -> dict[str, list[_Function]]:
    """Every function and method of ``texts`` by ``function`` or ``Class.method``."""
    out: dict[str, list[_Function]] = {}
    for text in texts:
        for scope in ast.walk(_tree(text)):
            owner = scope.name + "." if isinstance(scope, ast.ClassDef) else ""
            for f in ast.iter_child_nodes(scope):
                if isinstance(f, _Function):
                    out.setdefault(owner + f.name, []).append(f)
    return out


def reader_mentions(sources: Mapping[str, str], reader: str, name: str) -> bool:
    """Whether function ``reader`` (``Class.method`` or ``function``) has ``name`` as a string or a used parameter."""
    for f in _functions(tuple(sources.values())).get(reader, ()):
        params = {a.arg for a in (*f.args.posonlyargs, *f.args.args, *f.args.kwonlyargs)}
        for node in ast.walk(f):
            if isinstance(node, ast.Constant) and node.value == name:
                return True
            used = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id == name
            if used and name in params:
                return True
    return False


def _sources(dirs: Iterable[str]) -> dict[str, str]:
    paths = (p for d in dirs for p in sorted((ROOT / d).rglob("*.py")))
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in paths}


def test_every_setting_is_read() -> None:
    """Each field of each settings model is read outside its declaration, or allow-listed with its reader."""
    unread = [f for f in unread_fields(_sources(MODEL_DIRS), _sources(READER_DIRS)) if f.key not in ALLOWED]
    assert not unread, "settings no code reads:\n" + "\n".join(f"{f.file}:{f.line}: {f.key}" for f in unread)


def test_each_allowed_field_is_justified() -> None:
    """An allow-list entry is a field the guard reports, and its generic reader still names that field."""
    readers = _sources(READER_DIRS)
    reported = {f.key for f in unread_fields(_sources(MODEL_DIRS), readers)}
    stale = [f"{key}: read directly now (or gone), drop it" for key in sorted(set(ALLOWED) - reported)]
    unjustified = [
        f"{key}: {reader} does not read it"
        for key, reader in ALLOWED.items()
        if not reader.startswith(TODO) and not reader_mentions(readers, reader, key.split(".", 1)[1])
    ]
    assert not stale + unjustified, "\n".join(stale + unjustified)


def test_discovery_sees_every_model_and_field() -> None:
    """Each pydantic model the packages define at run time, and each of its fields, is found by the scan."""
    found = {(m.file, m.name): m for m in find_models(_sources(MODEL_DIRS))}
    fields_of = {m.name: {f.name for f in m.fields} for m in found.values()}
    missed = []
    for package in ("sitewatch.config", "checks"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            for cls in vars(importlib.import_module(info.name)).values():
                if not (inspect.isclass(cls) and issubclass(cls, pydantic.BaseModel)) or cls.__module__ != info.name:
                    continue
                file = str(Path(inspect.getfile(cls)).resolve().relative_to(ROOT))
                scanned = set().union(*(fields_of.get(c.__name__, set()) for c in cls.__mro__))
                if (file, cls.__name__) not in found or not set(cls.model_fields) <= scanned:
                    missed.append(f"{file}: {cls.__name__} {sorted(set(cls.model_fields) - scanned)}")
    assert not missed, missed


FAKE_BASE = """
import pydantic
class Base(pydantic.BaseModel):
    shared: int = 1
"""
FAKE_MODELS = """
from typing import ClassVar
import pydantic
from fake.base import Base
class Settings(Base):
    model_config = pydantic.ConfigDict(extra="forbid")
    kind: ClassVar[str] = "x"
    _cache: int = 0
    read_attr: int = 1
    read_getattr: int = 1
    read_key: int = 1
    read_item: int = 1
    via_property: int = 1
    only_validator: int = 1
    never: int = 1

    @property
    def effective(self) -> int:
        return self.via_property

    @pydantic.field_validator("only_validator")
    @classmethod
    def _check(cls, value: int) -> int:
        return cls.only_validator if value < 0 else value
"""
FAKE_READER = """
def use(settings, raw):
    seen = settings.read_attr, getattr(settings, "read_getattr"), settings.effective
    return seen, raw.get("read_key"), raw["read_item"]
"""


def test_the_checker_reports_an_unread_field() -> None:
    """The checker names what only the model reads, and passes what any reader reads, across modules."""
    models = {"fake/base.py": FAKE_BASE, "fake/models.py": FAKE_MODELS}
    readers = {**models, "fake/reader.py": FAKE_READER}
    unread = [(f.file, f.key) for f in unread_fields(models, readers)]
    assert unread == [
        ("fake/base.py", "Base.shared"),
        ("fake/models.py", "Settings.only_validator"),
        ("fake/models.py", "Settings.never"),
    ]
    assert reader_mentions(readers, "use", "read_key")
    assert not reader_mentions(readers, "use", "never")
