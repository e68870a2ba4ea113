"""DNS servers for the dns check's tests: Debian's dnsmasq, and a small one written here for hostile answers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from tests.helpers import free_port, need_daemon, wait_for

__all__ = ["ToyServer", "dnsmasq", "silent_resolver", "toy_server"]


async def _answers(port: int) -> bool:
    query = dns.message.make_query("shop.test.", "A")
    try:
        await dns.asyncquery.udp(query, "127.0.0.1", timeout=0.2, port=port)
    except (dns.exception.DNSException, OSError):
        return False
    return True


@contextlib.asynccontextmanager
async def dnsmasq(tmp_path: Path, *records: str) -> AsyncIterator[int]:
    """Debian's dnsmasq serving only ``records`` (its --host-record=… options) on 127.0.0.1; yields the port.

    No upstream, no /etc/hosts, no config file: it answers for these names and refuses the rest.
    Stopped by its PID.
    """
    binary = need_daemon("dnsmasq", "dnsmasq-base")
    port = free_port()
    args = [
        binary,
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--conf-file=/dev/null",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        f"--port={port}",
        f"--pid-file={tmp_path / 'dnsmasq.pid'}",
        *records,
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: ASYNC220
    try:
        await wait_for(lambda: _answers(port), what="dnsmasq to answer")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class ToyServer:
    """What the toy server answers and what it saw."""

    records: Mapping[str, Sequence[str]]  # "A" -> ["192.0.2.77"], for every name asked
    truncate_udp: bool = False  # every UDP answer is empty with TC=1: the client must retry over TCP
    authenticated: bool = False  # set AD on answers
    nxdomain: bool = False
    port: int = 0
    udp_queries: int = 0
    tcp_queries: int = 0
    tcp_done: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self, wire: bytes, over_tcp: bool) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if self.authenticated:
            response.flags |= dns.flags.AD
        question = query.question[0]
        rdtype = dns.rdatatype.to_text(question.rdtype)
        if self.nxdomain:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif self.truncate_udp and not over_tcp:
            response.flags |= dns.flags.TC
        elif self.records.get(rdtype):
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rdtype, self.records[rdtype]))
        return response.to_wire()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: ToyServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.udp_queries += 1
        assert self.transport is not None
        self.transport.sendto(self.server.answer(data, over_tcp=False), addr)


@contextlib.asynccontextmanager
async def toy_server(server: ToyServer, tcp: bool = True) -> AsyncIterator[ToyServer]:
    """``server`` on 127.0.0.1, UDP and (unless ``tcp`` is false) TCP on one port (RFC 1035 length prefix)."""
    handlers: set[asyncio.Task[None]] = set()

    async def serve_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                wire = await reader.readexactly(length)
                server.tcp_queries += 1
                reply = server.answer(wire, over_tcp=True)
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
                server.tcp_done.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.transport.abort()

    listener = await asyncio.start_server(serve_tcp, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    if not tcp:  # keep the port number for UDP, with nothing listening on its TCP side
        listener.close()
        await listener.wait_closed()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(server), local_addr=("127.0.0.1", server.port))
    try:
        yield server
    finally:
        transport.close()
        listener.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await listener.wait_closed()


@contextlib.contextmanager
def silent_resolver() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that takes queries and never answers (nothing listens on its TCP side)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()
