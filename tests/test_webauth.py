"""web-config.yml: TLS and bcrypt basic auth in front of /metrics, checked by a real Prometheus too."""

from __future__ import annotations

import base64
import ssl
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import bcrypt
import pytest
import trustme

from sitewatch.agent import Agent
from sitewatch.config.loader import ConfigError, load_config
from tests.helpers import free_port, running_agent, wait_for
from tests.test_agent_metrics import prometheus


def web_config(tmp_path: Path, ca: trustme.CA, password: str = "s3cret-scrape") -> Path:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "tls.pem"))
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    path = tmp_path / "web-config.yml"
    path.write_text(
        textwrap.dedent(f"""\
        tls_server_config:
          cert_file: tls.pem
          key_file: tls.pem
        basic_auth_users:
          prometheus: '{hashed}'
        """),
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def agent(tmp_path: Path, ca: trustme.CA) -> AsyncIterator[Agent]:
    web_config(tmp_path, ca)
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent: {{listen: "127.0.0.1:{free_port()}", state_dir: {tmp_path}, web_config: web-config.yml}}
        defaults: {{interval: 1s, timeout: 500ms}}
        sites:
          - name: down
            url: http://127.0.0.1:9/
        """),
        encoding="utf-8",
    )
    async with running_agent(path) as running:
        yield running


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def get(agent: Agent, ca: trustme.CA, path: str, auth: str | None = None) -> int:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    headers = {"Authorization": auth} if auth else {}
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"https://{agent.web.bound[0]}{path}", ssl=context, headers=headers) as resp,
    ):
        return resp.status


async def test_basic_auth_over_tls(agent: Agent, ca: trustme.CA) -> None:
    """Without or with a wrong password: 401. With the right one: 200, over TLS."""
    assert await get(agent, ca, "/metrics") == 401
    assert await get(agent, ca, "/metrics", basic("prometheus", "wrong")) == 401
    assert await get(agent, ca, "/api/status", basic("nobody", "s3cret-scrape")) == 401
    assert await get(agent, ca, "/metrics", basic("prometheus", "s3cret-scrape")) == 200
    # Pings carry their own token; without one configured this is a plain 404, not a 401.
    assert await get(agent, ca, "/ping/" + "a" * 32) == 404


def test_plain_text_password_is_refused(tmp_path: Path) -> None:
    """A password that is not a bcrypt hash is a config error with file and line."""
    (tmp_path / "web.yml").write_text("basic_auth_users:\n  prometheus: hunter2\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text(
        "agent:\n  web_config: web.yml\nsites:\n  - name: a\n    url: http://a.example/\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "c.yaml")
    message = str(info.value.problems[0])
    assert message.startswith(f"{tmp_path / 'web.yml'}:2: basic_auth_users: ")
    assert "bcrypt hash" in message
    assert "hunter2" not in message


@pytest.mark.slow
async def test_real_prometheus_scrapes_with_basic_auth_and_tls(agent: Agent, ca: trustme.CA, tmp_path: Path) -> None:
    """A real Prometheus with basic_auth and tls_config scrapes the protected agent."""
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    (tmp_path / "password").write_text("s3cret-scrape", encoding="utf-8")
    job = f"""\
        - job_name: sitewatch
          scheme: https
          tls_config: {{ca_file: {tmp_path / "ca.pem"}}}
          basic_auth: {{username: prometheus, password_file: {tmp_path / "password"}}}
          static_configs: [{{targets: ["{agent.web.bound[0]}"]}}]
        """
    result: list[dict[str, object]] = []
    async with prometheus(tmp_path, job) as port:

        async def scraped() -> bool:
            try:
                async with (
                    aiohttp.ClientSession() as client,
                    client.get(
                        f"http://127.0.0.1:{port}/api/v1/query", params={"query": 'probe_success{site="down"}'}
                    ) as resp,
                ):
                    data = await resp.json()
            except aiohttp.ClientError:
                return False
            result[:] = data["data"]["result"]
            return bool(result)

        await wait_for(scraped, timeout=30, what="Prometheus to scrape through TLS and basic auth")
    assert result[0]["value"][1] == "0"  # type: ignore[index]
