"""Basic auth under hostile clients: long passwords, unknown users and a flood of wrong passwords."""

from __future__ import annotations

import asyncio
import base64
import textwrap
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import bcrypt
import pytest

from sitewatch.agent import Agent
from sitewatch.web import passwords
from tests.helpers import free_port, running_agent

PASSWORD = "s3cret-scrape"
#: The cost htpasswd -B and the exporter-toolkit docs use: about 50 ms a verification.
COST = 10


@dataclass
class Spy:
    """Counts bcrypt verifications as they start and finish, and which hashes they used."""

    started: int = 0
    finished: int = 0
    hashes: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    seen = Spy()
    real = passwords._checkpw

    def counted(password: bytes, hashed: bytes) -> bool:
        with seen.lock:
            seen.started += 1
            seen.hashes.append(hashed)
        try:
            return real(password, hashed)
        finally:
            with seen.lock:
                seen.finished += 1

    monkeypatch.setattr(passwords, "_checkpw", counted)
    return seen


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[Agent]:
    """An agent on plain HTTP whose /metrics, /healthz and /alertmanager need user prometheus (cost 10)."""
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=COST)).decode()
    (tmp_path / "web-config.yml").write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n", encoding="utf-8")
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent:
          listen: "127.0.0.1:{free_port()}"
          state_dir: {tmp_path}
          web_config: web-config.yml
          alertmanager: {{enabled: true}}
        """),
        encoding="utf-8",
    )
    async with running_agent(path) as running:
        yield running


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def get(agent: Agent, path: str, auth: str | None = None, method: str = "GET") -> int:
    headers = {"Authorization": auth} if auth else {}
    async with (
        aiohttp.ClientSession() as client,
        client.request(
            method, f"http://{agent.web.bound[0]}{path}", headers=headers, json={} if method == "POST" else None
        ) as resp,
    ):
        return resp.status


async def test_password_over_72_bytes_is_a_401_not_a_500(agent: Agent, spy: Spy) -> None:
    """bcrypt 5 raises on a password over 72 bytes; that is a wrong password (401), on every protected path."""
    long = "x" * 73
    assert await get(agent, "/metrics", basic("prometheus", long)) == 401
    assert await get(agent, "/alertmanager", basic("prometheus", long), method="POST") == 401
    # Its first 72 bytes matching the real password does not let it in either.
    assert await get(agent, "/metrics", basic("prometheus", PASSWORD + "y" * 72)) == 401
    assert spy.started == 3  # each was verified (the same work as any other attempt), then refused
    assert await get(agent, "/metrics", basic("prometheus", PASSWORD)) == 200


async def test_unknown_user_costs_a_bcrypt_verification(agent: Agent, spy: Spy) -> None:
    """An unknown user is checked against a dummy hash of the real cost, so time does not say who exists."""
    assert await get(agent, "/metrics", basic("nobody", "guess")) == 401
    assert spy.started == 1
    [dummy] = spy.hashes
    assert dummy.startswith(b"$2b$10$")  # the configured user's cost
    assert await get(agent, "/metrics", basic("prometheus", "wrong")) == 401
    assert spy.started == 2
    assert spy.hashes[1] != dummy  # the second was the real user's hash


async def test_a_good_client_pays_bcrypt_once(agent: Agent, spy: Spy) -> None:
    """After the first success the credentials are remembered: further scrapes run no bcrypt at all."""
    for _ in range(5):
        assert await get(agent, "/metrics", basic("prometheus", PASSWORD)) == 200
    assert spy.started == 1


async def test_the_loop_answers_while_wrong_passwords_are_verified(agent: Agent, spy: Spy) -> None:
    """With 20 wrong-password verifications in flight, an authorised /healthz completes before they are done."""
    good = basic("prometheus", PASSWORD)
    assert await get(agent, "/healthz", good) == 200  # remembered from here on
    spy.started = spy.finished = 0
    flood = [asyncio.create_task(get(agent, "/metrics", basic("prometheus", f"wrong-{i}"))) for i in range(20)]
    deadline = time.monotonic() + 10
    while spy.started == 0:  # the flood has reached bcrypt
        assert time.monotonic() < deadline, "no verification started"
        await asyncio.sleep(0.005)
    began = time.perf_counter()
    assert await get(agent, "/healthz", good) == 200
    took = time.perf_counter() - began
    done_by_then = spy.finished
    assert sorted(await asyncio.gather(*flood)) == [401] * 20
    assert done_by_then < 20, f"/healthz waited for {done_by_then} of 20 verifications ({took:.3f} s)"
    assert spy.finished == 20
