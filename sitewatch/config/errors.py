"""Turns pydantic validation errors into ``file:line: key.path: expected …`` problems."""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Sequence
from typing import Any

import pydantic

from sitewatch.config.sourcemap import KeyPath, Problem, SourceMap, format_path

__all__ = ["ConfigError", "problems_from_validation"]


class ConfigError(Exception):
    """Raised with every problem found in a config, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


_SECRET_KEY = re.compile(r"pass|secret|token|key|auth|credential", re.IGNORECASE)

_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "url_parsing": "a URL like https://shop.example.com/",
    "url_scheme": "a URL starting with http:// or https://",
    "url_type": "a URL like https://shop.example.com/",
}


def _shown(value: Any, secret: bool) -> str:
    if secret:
        return "a value from a secret (not shown)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_at(model: type[pydantic.BaseModel], loc: KeyPath) -> type[pydantic.BaseModel] | None:
    """The model that validated the mapping at ``loc`` (to list its valid keys)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, pydantic.BaseModel)):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _find_model(info.annotation)
    return current if isinstance(current, type) and issubclass(current, pydantic.BaseModel) else None


def _find_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _message(
    err: Any, secret: bool, model: type[pydantic.BaseModel] | None, loc: KeyPath, siblings: Sequence[str] = ()
) -> str:
    kind = err["type"]
    given = err.get("input")
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1]) if model is not None else None
        # The key as written in YAML: a field's alias (http's json: is the field json_).
        keys = sorted(f.alias or n for n, f in owner.model_fields.items()) if owner is not None else []
        # A check's own keys sit beside the common ones (interval:, timeout:) validated apart.
        keys = sorted({*keys, *siblings}) if len(loc) == 1 else keys
        return f"unknown key{_did_you_mean(loc[-1] if loc else '', keys)}" + (
            f" (expected one of: {', '.join(keys)})" if keys else ""
        )
    if kind == "missing":
        return "required key is missing"
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, got {_shown(given, secret)}"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"expected one of {expected}, got {_shown(given, secret)}"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        return f"{err['msg'].lower()}, got {_shown(given, secret)}"
    msg: str = err["msg"]
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if secret and any(text in msg for text in _strings(given)):
        return "invalid value from a secret (not shown)"
    return msg


def _did_you_mean(key: str | int, keys: Sequence[str]) -> str:
    """``; did you mean 'expect_status'?`` for a key close to a valid one, else nothing."""
    close = difflib.get_close_matches(str(key), keys, n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def _strings(value: Any) -> list[str]:
    """Every string inside ``value`` (a secret may hide anywhere in a mapping or list)."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return [str(value)] if value is not None else []


def _data_path(data: Any, loc: tuple[str | int, ...], kind: str) -> KeyPath:
    """Keep only the parts of ``loc`` that exist in ``data``.

    pydantic inserts union branch and validator names into error locations; those
    are not keys the user wrote. A missing key keeps its (absent) last part.
    """
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        in_mapping = isinstance(node, dict) and part in node
        in_list = isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            node = node[part]
        elif kind in ("missing", "extra_forbidden") and i == len(loc) - 1:
            pass
        else:
            continue
        out.append(part)
    return tuple(out)


def problems_from_validation(
    exc: pydantic.ValidationError,
    prefix: KeyPath,
    smap: SourceMap,
    model: type[pydantic.BaseModel] | None = None,
    data: Any = None,
    *,
    siblings: Sequence[str] = (),
) -> list[Problem]:
    """Map each error of ``exc`` (raised for ``data`` found at ``prefix``) to a :class:`Problem`.

    ``siblings``: keys valid beside ``model``'s own at the top level (a check's common keys).
    """
    out = []
    for err in exc.errors(include_url=False):
        loc = _data_path(data, err["loc"], err["type"]) if data is not None else tuple(err["loc"])
        path = prefix + loc
        secret = smap.holds_secret(path) or any(isinstance(p, str) and _SECRET_KEY.search(p) for p in path)
        message = _message(err, secret, model, loc, siblings)
        out.append(Problem(smap.origin(path), format_path(path), message))
    return out
