"""docs/openapi.yaml is valid OpenAPI 3.1, lists exactly the agent's routes, and real answers match its schemas."""

from __future__ import annotations

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
from tests.helpers import serve
from tests.statuspage_helpers import agent_config, incident_delivered, running_agent, target_app
from tests.test_agent_metrics import free_port

SPEC_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
TOKEN = "9c1d0e7f5a3b4c2d8e6f0a1b2c3d4e5f"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return document


@pytest.fixture
async def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Agent]:
    """A running agent with a good site, a failing one (an incident and a local ticket) and a heartbeat."""
    monkeypatch.setenv("OPENAPI_TEST_TOKEN", TOKEN)
    async with serve(target_app()) as url:
        config = agent_config(tmp_path, url, f"127.0.0.1:{free_port()}")
        with config.open("a", encoding="utf-8") as extra:
            extra.write(
                "  - name: backups\n    url: https://backup.invalid/\n    checks:\n"
                "      - {type: heartbeat, interval: 1h, max_age: 1h, token: '${OPENAPI_TEST_TOKEN}'}\n"
            )
        async with running_agent(config) as running:
            await incident_delivered(running)
            yield running


def test_spec_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    """The file passes openapi-spec-validator as OpenAPI 3.1."""
    assert spec["openapi"].startswith("3.1.")
    validate(spec)


async def test_spec_lists_exactly_the_registered_routes(agent: Agent, spec: dict[str, Any]) -> None:
    """Every (method, path) the app serves is documented, and every documented one is served."""
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in agent.web.app.router.routes()
        if route.resource is not None and route.method != "HEAD"  # aiohttp adds HEAD to every GET
    }
    documented = {(method, path) for path, item in spec["paths"].items() for method in item if method in METHODS}
    assert served == documented


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
        ("get", "/healthz", "/healthz", 200),
        ("post", f"/ping/{TOKEN}", "/ping/{token}", 200),
        ("get", f"/ping/{TOKEN}/start", "/ping/{token}/{kind}", 200),
        ("post", "/ping/unknown-token/fail", "/ping/{token}/{kind}", 404),
    ],
    ids=lambda case: f"{case[0]} {case[1]}",
)
async def test_real_answers_match_the_schema(
    agent: Agent, spec: dict[str, Any], case: tuple[str, str, str, int]
) -> None:
    """Each JSON answer has its documented status, every required key, and validates against its schema."""
    method, url, path, status = case
    async with aiohttp.ClientSession() as client, client.request(method, f"http://{agent.web.bound[0]}{url}") as resp:
        assert resp.status == status
        assert resp.content_type == "application/json"
        body = json.loads(await resp.text())
    schema = schema_of(spec, path, method, status)
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
    assert history["results"]
    assert {r["status"] for r in history["results"]} == {"critical"}
    assert {r["check"] for r in history["results"]} == {"http"}
    # A schema that did not require anything would pass everything: drop a required key and it must fail.
    schema = schema_of(spec, "/api/incidents", "get", 200)
    del incidents["incidents"][0]["tickets"][0]["ref"]
    with pytest.raises(jsonschema.ValidationError, match="'ref' is a required property"):
        jsonschema.Draft202012Validator(schema).validate(incidents)
