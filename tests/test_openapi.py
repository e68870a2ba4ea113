"""docs/openapi.yaml is valid OpenAPI 3.1, lists exactly the agent's routes, and real answers match its schemas."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate

from sitewatch.agent import Agent
from tests.helpers import free_port, running_agent, serve
from tests.statuspage_helpers import agent_config, incident_delivered, target_app

SPEC_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
TOKEN = "9c1d0e7f5a3b4c2d8e6f0a1b2c3d4e5f"
AM_TOKEN = "openapi-test-alertmanager-token-0123456789"
ALERT = {
    "version": "4",
    "status": "firing",
    "receiver": "sitewatch",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical"},
            "annotations": {"summary": "disk / is 97% full"},
            "startsAt": "2026-11-26T20:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "0123456789abcdef",
        }
    ],
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return document


@pytest.fixture
async def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Agent]:
    """A running agent with a good site, a failing one (an incident and a local ticket) and a heartbeat."""
    monkeypatch.setenv("OPENAPI_TEST_TOKEN", TOKEN)
    async with serve(target_app()) as url:
        bridge = f", alertmanager: {{enabled: true, token: '{AM_TOKEN}'}}"
        config = agent_config(tmp_path, url, f"127.0.0.1:{free_port()}", bridge)
        with config.open("a", encoding="utf-8") as extra:
            extra.write(
                "  - name: backups\n    url: https://backup.invalid/\n    checks:\n"
                "      - {type: heartbeat, interval: 1h, max_age: 1h, token: '${OPENAPI_TEST_TOKEN}'}\n"
                "tickets:\n  sla: {P2: {response: 30m, resolve: 8h}}\n"
            )
        async with running_agent(config) as running:
            await incident_delivered(running)
            yield running


def test_spec_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    """The file passes openapi-spec-validator as OpenAPI 3.1."""
    assert spec["openapi"].startswith("3.1.")
    validate(spec)


async def test_spec_lists_exactly_the_registered_routes(agent: Agent, spec: dict[str, Any]) -> None:
    """Every (method, path) the app serves is documented, and every documented one is served.

    A route for any method ("*", the Alertmanager bridge answers the others with a JSON 405) must
    document at least one method, and no other route may claim its path.
    """
    routes = [r for r in agent.web.app.router.routes() if r.resource is not None]
    served = {(r.method.lower(), r.resource.canonical) for r in routes if r.method not in ("HEAD", "*")}
    any_method = {r.resource.canonical for r in routes if r.method == "*"}
    documented = {(method, path) for path, item in spec["paths"].items() for method in item if method in METHODS}
    assert any_method == {"/alertmanager"}
    assert served == {(m, p) for m, p in documented if p not in any_method}
    assert all(any(p == path for _, p in documented) for path in any_method)


def schema_of(spec: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    """The JSON schema of a documented answer, with #/components/... refs resolvable."""
    answer = spec["paths"][path][method]["responses"][str(status)]
    if "$ref" in answer:
        answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    return {**answer["content"]["application/json"]["schema"], "components": spec["components"]}


def required_keys(schema: dict[str, Any], spec: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        return required_keys(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], spec)
    return set(schema.get("required", ()))


@pytest.mark.parametrize(
    "case",
    [
        ("get", "/api/status", "/api/status", 200),
        ("get", "/api/incidents", "/api/incidents", 200),
        ("get", "/api/incidents?state=resolved&limit=5", "/api/incidents", 200),
        ("get", "/api/incidents?state=closed", "/api/incidents", 400),
        ("get", "/api/sites/bad/history?since=1h", "/api/sites/{name}/history", 200),
        ("get", "/api/sites/bad/history?since=yesterday", "/api/sites/{name}/history", 400),
        ("get", "/api/sites/nope/history", "/api/sites/{name}/history", 404),
        ("get", "/api/clients/default/sla", "/api/clients/{client}/sla", 200),
        ("get", "/api/clients/default/sla?month=2026-13", "/api/clients/{client}/sla", 400),
        ("get", "/api/clients/nobody/sla", "/api/clients/{client}/sla", 404),
        ("get", "/healthz", "/healthz", 200),
        ("post", f"/ping/{TOKEN}", "/ping/{token}", 200),
        ("get", f"/ping/{TOKEN}/start", "/ping/{token}/{kind}", 200),
        ("post", "/ping/unknown-token/fail", "/ping/{token}/{kind}", 404),
        ("post", "/alertmanager", "/alertmanager", 200),
        ("post", "/alertmanager#no-token", "/alertmanager", 401),
        ("get", "/alertmanager", "/alertmanager", 405),
    ],
    ids=lambda case: f"{case[0]} {case[1]}",
)
async def test_real_answers_match_the_schema(
    agent: Agent, spec: dict[str, Any], case: tuple[str, str, str, int]
) -> None:
    """Each JSON answer has its documented status, every required key, and validates against its schema."""
    method, url, path, status = case
    extra: dict[str, Any] = {}
    if url == "/alertmanager" and method == "post":
        extra = {"json": ALERT, "headers": {"Authorization": f"Bearer {AM_TOKEN}"}}
    url = url.split("#")[0]
    async with (
        aiohttp.ClientSession() as client,
        client.request(method, f"http://{agent.web.bound[0]}{url}", **extra) as resp,
    ):
        assert resp.status == status
        assert resp.content_type == "application/json"
        body = json.loads(await resp.text())
    # An undocumented method on the any-method route is answered as the documented POST's 405.
    schema = schema_of(spec, path, method if method in spec["paths"][path] else "post", status)
    assert required_keys(schema, spec) <= set(body)
    jsonschema.Draft202012Validator(schema).validate(body)


async def test_answers_carry_what_the_operator_needs(agent: Agent, spec: dict[str, Any]) -> None:
    """The failing site's incident names its local ticket; its history holds critical runs; the schema bites."""
    base = f"http://{agent.web.bound[0]}"
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{base}/api/incidents?state=open") as resp:
            incidents = await resp.json()
        async with client.get(f"{base}/api/sites/bad/history?since=10m") as resp:
            history = await resp.json()
    (incident,) = incidents["incidents"]
    assert (incident["key"], incident["state"], incident["severity"]) == ("sw:v1:bad:http", "open", "critical")
    assert incident["tickets"] == [
        {"sink": "local", "ref": "1", "delivery": "delivered", "pending": 0, "last_error": None, "status": "open"}
    ]
    # A P2 on the default (24x7, UTC) calendar: due 30 minutes and 8 hours after it opened.
    opened = dt.datetime.fromisoformat(incident["opened_at"])
    assert dt.datetime.fromisoformat(incident["respond_by"]) - opened == dt.timedelta(minutes=30)
    assert dt.datetime.fromisoformat(incident["resolve_by"]) - opened == dt.timedelta(hours=8)
    assert incident["respond_by_local"].endswith(" UTC")
    assert (incident["sla"]["priority"], incident["sla"]["response"], incident["sla"]["resolve"]) == (
        "P2",
        "running",
        "running",
    )
    assert history["results"]
    assert {r["status"] for r in history["results"]} == {"critical"}
    assert {r["check"] for r in history["results"]} == {"http"}
    # A schema that did not require anything would pass everything: drop a required key and it must fail.
    schema = schema_of(spec, "/api/incidents", "get", 200)
    del incidents["incidents"][0]["tickets"][0]["ref"]
    with pytest.raises(jsonschema.ValidationError, match="'ref' is a required property"):
        jsonschema.Draft202012Validator(schema).validate(incidents)
