"""A probed site is untrusted: redirects to metadata/link-local addresses or other schemes are refused, unconnected.

Every TCP connect the http check makes is watched, and anything but loopback is refused by the
test itself, so no case here can reach a real metadata service even if the check lets it through.
"""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import ipaddress
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from checks.http_fetch import private_guard
from sitewatch.probe import Status
from tests.helpers import make_spec, run_check
from tests.reliability.hostile_server import HostileServer

HOSTS = {"shop.test": ["127.0.0.1"], "metadata.test": ["169.254.169.254"], "imds6.test": ["fd00:ec2::254"]}


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Addresses the agent tried to connect to; non-loopback ones are refused before any packet leaves.

    Watched at the event loop's ``sock_connect``, which every TCP connect goes through
    (asyncio's ``create_connection`` and happy eyeballs alike).
    """
    seen: list[str] = []
    original = asyncio.selector_events.BaseSelectorEventLoop.sock_connect

    async def guarded(loop: Any, sock: socket.socket, address: Any) -> Any:
        seen.append(address[0])
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise ConnectionRefusedError(111, "the test only allows loopback")
        return await original(loop, sock, address)

    monkeypatch.setattr(asyncio.selector_events.BaseSelectorEventLoop, "sock_connect", guarded)
    return seen


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    async with HostileServer() as hostile:
        yield hostile


async def follow(server: HostileServer, location: str) -> Any:
    """Run the http check on a page that redirects to ``location``."""
    url = f"http://shop.test:{server.port}/redirect?to={location}"
    return await run_check("http", {}, url=url, timeout=2.0, hosts=HOSTS)


@pytest.mark.parametrize(
    ("location", "words"),
    [
        (
            "http://169.254.169.254/latest/meta-data/",
            "redirect to 169.254.169.254, a link-local/metadata address: refused",
        ),
        ("http://169.254.170.2/v2/credentials", "redirect to 169.254.170.2, a link-local/metadata address: refused"),
        ("http://[fd00:ec2::254]/", "redirect to fd00:ec2::254, a link-local/metadata address: refused"),
        ("http://metadata.test/computeMetadata/v1/", "redirect refused: metadata.test resolves to 169.254.169.254"),
        ("http://imds6.test/", "redirect refused: imds6.test resolves to fd00:ec2::254"),
        ("file:///etc/passwd", "redirect to unsupported scheme 'file': refused"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "redirect to unsupported scheme 'gopher': refused"),
    ],
)
async def test_redirect_to_forbidden_target_is_refused_and_never_connected(
    server: HostileServer, connects: list[str], location: str, words: str
) -> None:
    """The check reports the refusal as critical and makes no connection beyond the first (loopback) hop."""
    record = await follow(server, location)
    assert record.result.status is Status.CRITICAL, record.result.summary
    assert words in record.result.summary
    assert connects == ["127.0.0.1"]
    assert [path for path, _ in server.requests] == ["/redirect"]


@pytest.mark.parametrize("location", ["http://[::ffff:169.254.169.254]/", "http://[::ffff:a9fe:a9fe]/"])
async def test_redirect_to_ipv4_mapped_metadata_address_is_refused(
    server: HostileServer, connects: list[str], location: str
) -> None:
    """An IPv4-mapped IPv6 spelling of the metadata address is refused like the plain one."""
    record = await follow(server, location)
    assert "link-local/metadata address: refused" in record.result.summary, record.result.summary
    assert connects == ["127.0.0.1"]


async def test_loopback_redirect_is_followed(server: HostileServer, connects: list[str]) -> None:
    """A redirect to an ordinary (here loopback) address is still followed: the guard is not a blanket ban."""
    record = await follow(server, f"http://shop.test:{server.port}/ok")
    assert record.result.status is Status.OK, record.result.summary
    assert connects == ["127.0.0.1", "127.0.0.1"]


#: The origin 127.0.0.1 counts as public when only 127.0.0.2 is declared private: loopback stands in for both.
INNER = {"private_networks": ["127.0.0.2/32"]}


@pytest.mark.parametrize(
    ("location", "words"),
    [
        ("http://127.0.0.2:{port}/ok", "redirect from a public address to 127.0.0.2, a private address: refused"),
        ("http://[::ffff:127.0.0.2]:{port}/ok", "redirect from a public address to ::ffff:7f00:2, a private address"),
        ("http://inner.test:{port}/ok", "inner.test resolves to 127.0.0.2, a private address, and the site is public"),
    ],
)
async def test_public_site_redirecting_into_private_network_is_refused(
    server: HostileServer, connects: list[str], location: str, words: str
) -> None:
    """A hop from a public origin into a private network is refused before connecting, by address or by name."""
    url = f"http://shop.test:{server.port}/redirect?to={location.format(port=server.port)}"
    hosts = {**HOSTS, "inner.test": ["127.0.0.2"]}
    record = await run_check("http", INNER, url=url, timeout=2.0, hosts=hosts)
    assert record.result.status is Status.CRITICAL, record.result.summary
    assert words in record.result.summary
    assert connects == ["127.0.0.1"]


async def test_private_redirect_is_followed_when_allowed(server: HostileServer, connects: list[str]) -> None:
    """`allow_private_redirects: true` lets the hop through: the connection to 127.0.0.2 is attempted."""
    url = f"http://shop.test:{server.port}/redirect?to=http://inner.test:{server.port}/ok"
    hosts = {**HOSTS, "inner.test": ["127.0.0.2"]}
    await run_check("http", {**INNER, "allow_private_redirects": True}, url=url, timeout=2.0, hosts=hosts)
    assert connects == ["127.0.0.1", "127.0.0.2"]


def test_private_and_forbidden_addresses_see_through_ipv4_mapping() -> None:
    """Both guards judge ::ffff:a.b.c.d as a.b.c.d, and leave names and public addresses alone."""
    from sitewatch.probe import forbidden_address, private_address

    assert forbidden_address("::ffff:169.254.169.254")
    assert forbidden_address("[::ffff:a9fe:a9fe]")
    assert private_address("::ffff:10.1.2.3")
    assert private_address("192.168.0.1")
    assert private_address("fd12::1")
    assert not private_address("203.0.113.7")
    assert not private_address("2001:db8::1")
    assert not private_address("shop.test")
    assert not forbidden_address("shop.test")


def test_a_check_judges_its_peer_again_when_the_address_changes() -> None:
    """The public/private verdict on the first hop's peer is remembered per address, never past a change."""
    check = make_spec("http", {"private_networks": ["127.0.0.2/32"]}).build()
    cfg, inner = check.config, (ipaddress.ip_network("127.0.0.2/32"),)
    assert private_guard(cfg, "127.0.0.1") == inner  # "public": later hops are guarded
    assert private_guard(cfg, "127.0.0.2") == ()  # the site moved into the private network: nothing to guard
    assert private_guard(cfg, "127.0.0.1") == inner
