"""``json:`` assertions of the http check against a real JSON health endpoint on loopback."""

from __future__ import annotations

import gzip
import json
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from checks.http_json import parse_assertion, same
from sitewatch.config.loader import ConfigError, load_config
from sitewatch.probe import Status
from tests.helpers import run_check, serve


def health(status: str, errors: list[str] | None = None, components: int = 200) -> dict[str, Any]:
    """A Spring Boot actuator style /health answer, padded with real-looking components to ~20 KB."""
    parts: dict[str, Any] = {
        f"disk{i}": {"status": "UP", "details": {"total": 499963174912, "free": 91003936768 + i, "threshold": 10485760}}
        for i in range(components)
    }
    parts["db"] = {"status": status, "details": {"database": "MariaDB", "validationQuery": "isValid()"}}
    return {"status": status, "components": parts, "errors": errors or [], "version": "2.7.1"}


async def _gzip_chunked(request: web.Request, body: bytes, content_type: str) -> web.StreamResponse:
    """The body gzip'd and sent chunked in many small writes, as a real app server behind nginx does."""
    response = web.StreamResponse(headers={"Content-Type": content_type, "Content-Encoding": "gzip"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    packed = gzip.compress(body)
    for at in range(0, len(packed), 512):
        await response.write(packed[at : at + 512])
    await response.write_eof()
    return response


@pytest.fixture
async def app() -> AsyncIterator[str]:
    """/up, /down (status DOWN, two errors), /html (an error page) and /big (a long JSON answer)."""

    def route(body: bytes, content_type: str = "application/json") -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await _gzip_chunked(request, body, content_type)

        return handler

    application = web.Application()
    application.router.add_get("/up", route(json.dumps(health("UP")).encode()))
    application.router.add_get("/down", route(json.dumps(health("DOWN", ["db timeout", "cache"])).encode()))
    application.router.add_get("/html", route(b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"))
    application.router.add_get("/big", route(json.dumps(health("UP", components=3000)).encode()))
    async with serve(application) as base:
        yield base


async def test_healthy_answer_is_ok(app: str) -> None:
    """Every assertion holds on a ~20 KB gzip'd, chunked answer: ok."""
    record = await run_check(
        "http",
        {
            "url": "/up",
            "json": ["status == 'UP'", "length(errors) == `0`", {"path": "components.db.status", "equals": "UP"}],
        },
        url=app,
    )
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.details["body_bytes"] > 20_000


async def test_down_is_critical_naming_path_expected_and_actual(app: str) -> None:
    """{"status":"DOWN"} is critical; each failing assertion names its path, the expected and actual value."""
    settings = {
        "url": "/down",
        "json": [
            "status == 'UP'",
            "length(errors) == `0`",
            {"path": "components.db.details.database", "equals": "MariaDB"},
            {"path": "components.db.status", "equals": "UP"},
            {"path": "components.cache.status", "equals": "UP"},
        ],
    }
    record = await run_check("http", settings, url=app)
    assert record.result.status is Status.CRITICAL
    assert record.result.details["problems"] == [
        "json: status is \"DOWN\" (expected == 'UP')",
        "json: length(errors) is 2 (expected == `0`)",
        'json: components.db.status is "DOWN" (expected "UP")',
        'json: components.cache.status is null (or missing) (expected "UP")',
    ]


async def test_html_answer_is_not_json(app: str) -> None:
    """An HTML error page where JSON was expected: critical "answer is not JSON" with what came instead."""
    record = await run_check("http", {"url": "/html", "json": ["status == 'UP'"]}, url=app)
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == (
        "answer is not JSON (Content-Type text/html, starts with '<html><body><h1>502 Bad Gateway</h1></bo';"
        " Expecting value: line 1 column 1 (char 0))"
    )


async def test_body_cut_by_max_body_says_so(app: str) -> None:
    """A JSON answer longer than max_body cannot parse; the hint says to raise max_body."""
    record = await run_check("http", {"url": "/big", "json": ["status == 'UP'"], "max_body": "64KiB"}, url=app)
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "answer is not JSON (only the first 65536 bytes were read: raise max_body)"


def test_comparison_values_follow_json_not_python() -> None:
    """true is not 1, 1 is 1.0, and a missing key is not an empty string."""
    assert not same(True, 1)
    assert same(1, 1.0)
    assert not same(None, "")
    assert same({"a": [1, "x"]}, {"a": [1.0, "x"]})
    assert parse_assertion("a == b").left == "a"


def test_typo_lists_json_as_written(tmp_path: Path) -> None:
    """An unknown key on the http check lists `json` (the YAML key), not the Python field name."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "sites:\n  - name: api\n    url: https://api.example.com/\n    checks:\n      - {type: http, jsno: []}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = (str(p) for p in info.value.problems)
    assert "unknown key; did you mean 'json'? (expected one of: " in problem
    keys = problem.split("(expected one of: ", 1)[1]
    assert " json," in keys
    assert "json_" not in keys


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ('"status =="', "invalid JMESPath expression 'status ==': Incomplete expression at column 10"),
        ('"lenght(errors) == `0`"', "unknown function lenght()"),
        ("{path: status}", "expected both path: (a JMESPath expression) and equals:"),
        ("{path: status, equals: UP, eq: 1}", "unknown key 'eq'"),
        ("42", "expected an expression such as"),
    ],
)
def test_bad_expressions_are_located_config_errors(tmp_path: Path, item: str, message: str) -> None:
    """A bad expression fails at load with the file, the line and the dotted key of the json: item."""
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            sites:
              - name: api
                url: https://api.example.com/
                checks:
                  - type: http
                    json:
                      - {item}
            """
        )
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = (str(p) for p in info.value.problems)
    assert problem.startswith(f"{path}:7: sites[0].checks[0].json[0]: "), problem
    assert message in problem
