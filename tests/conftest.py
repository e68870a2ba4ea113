"""Fixtures shared by the whole suite."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import trustme


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throwaway certificate authority for real TLS handshakes on loopback."""
    return trustme.CA()


@pytest.fixture
def server_ssl(ca: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for localhost/127.0.0.1 signed by ``ca`` (not trusted by the system)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1", "shop.test").configure_cert(ctx)
    return ctx


Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class HostileServers:
    """Misbehaving raw-socket servers on loopback; call with a behaviour to start one."""

    def __init__(self) -> None:
        self.servers: list[asyncio.Server] = []
        self.handlers: set[asyncio.Task[object]] = set()

    async def __call__(self, behaviour: Behaviour) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self.handlers.add(task)
            try:
                await behaviour(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.transport.abort()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.servers.append(server)
        return f"127.0.0.1:{server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        """Stop listening and end every handler (the hostile ones never end on their own)."""
        for server in self.servers:
            server.close()
        for task in self.handlers:
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        self.handlers.clear()


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServers]:
    """Starts misbehaving servers on demand; all are closed at teardown."""
    servers = HostileServers()
    yield servers
    await servers.close()
