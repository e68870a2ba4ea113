"""``json:`` assertions of the ``http`` check: JMESPath expressions, compiled at config load.

An assertion is either ``{path: <JMESPath>, equals: <value>}`` or one expression that
must be true (``status == 'UP'``, ``length(errors) == `0```). A failure names the
path, the expected and the actual value; for a top-level comparison the two sides are
evaluated on their own so the message can say what the left side actually was.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.functions
import jmespath.lexer
import jmespath.parser
import jmespath.visitor

__all__ = ["JsonAssertion", "evaluate", "judge", "parse_assertion", "parse_body"]

_SHOW = 80
_OPERATORS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "lte": "<=", "gte": ">="}
_OPEN = {"lparen", "lbracket", "lbrace", "filter"}
_CLOSE = {"rparen", "rbracket", "rbrace"}
_MISSING = object()
_FUNCTIONS = frozenset(jmespath.functions.Functions().FUNCTION_TABLE)


@dataclass(frozen=True, slots=True)
class JsonAssertion:
    """One compiled assertion; ``equals`` is ``_MISSING`` for the expression form."""

    expression: str
    compiled: jmespath.parser.ParsedResult
    equals: Any = _MISSING
    left: str | None = None  # source text of each side of a top-level comparison
    right: str | None = None

    def __str__(self) -> str:
        if self.equals is _MISSING:
            return self.expression
        return f"{self.expression} == {show(self.equals)}"


def _compile(expression: Any, where: str) -> jmespath.parser.ParsedResult:
    if not isinstance(expression, str) or not expression.strip():
        raise ValueError(f"expected a JMESPath expression as {where}, got {expression!r}")
    try:
        compiled = jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        reason = str(exc).splitlines()[0].removeprefix("Invalid jmespath expression: ").rstrip(":")
        column = getattr(exc, "lex_position", None)
        at = f" at column {column + 1}" if isinstance(column, int) else ""
        raise ValueError(f"invalid JMESPath expression {expression!r}: {reason}{at}") from None
    # jmespath looks functions up only when it runs them: a typo must fail here, not at 3 a.m.
    unknown = sorted(_functions(compiled.parsed) - _FUNCTIONS)
    if unknown:
        raise ValueError(f"invalid JMESPath expression {expression!r}: unknown function {unknown[0]}()")
    return compiled


def _functions(node: Mapping[str, object]) -> set[str]:
    found = {str(node.get("value"))} if node.get("type") == "function_expression" else set()
    children = node.get("children")
    for child in children if isinstance(children, list) else ():
        if isinstance(child, dict):
            found |= _functions(child)
    return found


def parse_assertion(value: Any) -> JsonAssertion:
    """Validate one ``json:`` item (a string or ``{path, equals}``) into a compiled assertion."""
    if isinstance(value, JsonAssertion):
        return value
    if isinstance(value, str):
        compiled = _compile(value, "an assertion")
        left, right = _sides(value, compiled)
        return JsonAssertion(value, compiled, left=left, right=right)
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"path", "equals"})
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} (expected path: and equals:)")
        if "path" not in value or "equals" not in value:
            raise ValueError("expected both path: (a JMESPath expression) and equals: (the value it must have)")
        return JsonAssertion(value["path"], _compile(value["path"], "path:"), value["equals"])
    raise ValueError(f"expected an expression such as \"status == 'UP'\" or {{path: ..., equals: ...}}, got {value!r}")


def _sides(text: str, compiled: jmespath.parser.ParsedResult) -> tuple[str | None, str | None]:
    """Source text of the two sides of a top-level comparison, if the expression is one."""
    if compiled.parsed.get("type") != "comparator":
        return None, None
    depth = 0
    for token in jmespath.lexer.Lexer().tokenize(text):
        kind = token["type"]
        if kind in _OPEN:
            depth += 1
        elif kind in _CLOSE:
            depth -= 1
        elif depth == 0 and kind in _OPERATORS:
            start = int(token["start"])
            right = text[start + len(_OPERATORS[kind]) :].strip()
            return text[:start].strip(), right
    return None, None  # pragma: no cover - a top-level comparator always has its token at depth 0


def parse_body(body: str) -> tuple[Any, str | None]:
    """The decoded JSON document, or None and the parser's reason."""
    try:
        return json.loads(body), None
    except ValueError as exc:  # json.JSONDecodeError, and RecursionError's cousins for absurd nesting
        return None, str(exc)
    except RecursionError:
        return None, "nested too deeply"


def evaluate(assertion: JsonAssertion, document: Any) -> str | None:
    """None when the assertion holds, else the failure line (path, expected, actual)."""
    try:
        actual = assertion.compiled.search(document)
    except jmespath.exceptions.JMESPathError as exc:  # e.g. length() of a number: the answer's shape is wrong
        return f"json: {assertion.expression}: {str(exc).splitlines()[0]}"
    if assertion.equals is not _MISSING:
        if same(actual, assertion.equals):
            return None
        return f"json: {assertion.expression} is {_actual(actual)} (expected {show(assertion.equals)})"
    if _truthy(actual):
        return None
    node = assertion.compiled.parsed
    if assertion.left is not None and node.get("type") == "comparator":
        interpreter = jmespath.visitor.TreeInterpreter()
        left, right = (interpreter.visit(child, document) for child in node["children"])
        wanted = f"{_OPERATORS[node['value']]} {assertion.right}"
        if node["children"][1].get("type") != "literal":
            wanted += f", which is {_actual(right)}"
        return f"json: {assertion.left} is {_actual(left)} (expected {wanted})"
    return f"json: {assertion.expression} is {_actual(actual)} (expected true)"


def judge(assertions: tuple[JsonAssertion, ...], body: str, content_type: str, cut_at: int | None) -> list[str]:
    """Failure lines of ``assertions`` against ``body``; one line when the body is not JSON.

    ``cut_at`` is the byte count read when ``max_body`` cut the body short (the usual
    reason a healthy JSON answer stops parsing), else None.
    """
    document, reason = parse_body(body)
    if reason is not None:
        if cut_at is not None:
            hint = f"only the first {cut_at} bytes were read: raise max_body"
        elif not body.strip():
            hint = "the body is empty"
        else:
            start = "".join(ch if ch.isprintable() else " " for ch in body.lstrip()[:40])
            hint = f"Content-Type {content_type or 'missing'}, starts with {start!r}; {reason}"
        return [f"answer is not JSON ({hint})"]
    return [line for a in assertions if (line := evaluate(a, document)) is not None]


def same(actual: Any, expected: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, ``1`` is ``1.0``, containers compare item by item."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual is expected
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return actual == expected
    if isinstance(actual, list) and isinstance(expected, list | tuple):
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(same(actual[k], expected[k]) for k in actual)
    return type(actual) is type(expected) and bool(actual == expected)


def _truthy(value: Any) -> bool:
    """JMESPath's truth: false, null and empty strings, lists and objects are false."""
    return value is not None and value is not False and value not in ("", [], {})


def _actual(value: Any) -> str:
    return "null (or missing)" if value is None else show(value)


def show(value: Any) -> str:
    """A value as JSON, printable and cut for a summary (the answer is the site's text)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= _SHOW else text[: _SHOW - 1] + "…"
