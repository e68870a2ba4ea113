"""web-config.yml's ``http_server_config``: its headers on every answer of a real agent; the rest refused."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import aiohttp
import bcrypt
import pytest

from sitewatch.config.loader import ConfigError, load_config
from tests.helpers import free_port, running_agent

HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Strict-Transport-Security": "max-age=31536000",
}


def write(tmp_path: Path, web: str) -> Path:
    (tmp_path / "web.yml").write_text(textwrap.dedent(web), encoding="utf-8")
    path = tmp_path / "c.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent: {{listen: "127.0.0.1:{free_port()}", state_dir: {tmp_path}, web_config: web.yml}}
        defaults: {{interval: 1h, timeout: 500ms}}
        sites:
          - name: down
            url: http://127.0.0.1:9/
        """),
        encoding="utf-8",
    )
    return path


async def test_headers_are_set_on_every_answer(tmp_path: Path) -> None:
    """The configured headers come on /metrics, the page, an API error, an unknown route and a refusal alike."""
    lines = "".join(f'    {name}: "{value}"\n' for name, value in HEADERS.items())
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    web = f"basic_auth_users:\n  ops: '{hashed}'\nhttp_server_config:\n  http2: false\n  headers:\n" + lines
    path = write(tmp_path, web)
    auth = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret").decode()}
    async with running_agent(path) as agent, aiohttp.ClientSession() as client:
        base = f"http://{agent.web.bound[0]}"
        answers = (("/metrics", 200, auth), ("/", 200, auth), ("/api/incidents?limit=x", 400, auth))
        answers += (("/nowhere", 404, auth), ("/metrics", 401, None))
        for route, status, credentials in answers:
            async with client.get(base + route, headers=credentials) as resp:
                assert resp.status == status, route
                for name, value in HEADERS.items():
                    assert resp.headers.get(name) == value, (route, name)
                assert "X-XSS-Protection" not in resp.headers  # not configured, not invented


async def test_without_headers_none_are_added(tmp_path: Path) -> None:
    """No ``http_server_config``: the answers carry none of the five headers."""
    path = write(tmp_path, "basic_auth_users: {}\n")
    async with running_agent(path) as agent, aiohttp.ClientSession() as client:
        async with client.get(f"http://{agent.web.bound[0]}/metrics") as resp:
            assert resp.status == 200
            assert not set(HEADERS) & set(resp.headers)


@pytest.mark.parametrize(
    ("web", "line", "key", "expected"),
    [
        ("http_server_config:\n  http2: true\n", 2, "http_server_config.http2", "HTTP/1.1 only"),
        ("http_server_config:\n  headers:\n    Server: nginx\n", 3, "http_server_config.headers.Server", ""),
        (
            "tls_server_config:\n  cert_file: a.pem\n  key_file: a.pem\n  min_version: TLS10\n",
            4,
            "tls_server_config.min_version",
            "TLS12",
        ),
    ],
)
def test_what_the_server_cannot_honour_is_refused_with_file_and_line(
    tmp_path: Path, web: str, line: int, key: str, expected: str
) -> None:
    """``http2: true``, a header the exporter toolkit does not allow, TLS 1.0: each a located error."""
    path = write(tmp_path, web)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value.problems[0])
    assert message.startswith(f"{tmp_path / 'web.yml'}:{line}: {key}"), message
    assert expected in message
