"""CPU per run of the tcp, dns and domain checks and of http ``json:``, each against the minimum the same work needs.

All on loopback, servers in this process, CPU measured on this thread's clock
(``time.thread_time``; the servers run on the same loop, so both sides of a pair
include the same server work):

* **tcp**: a banner check (``expect: ^220``) vs a bare ``open_connection`` + ``readline``;
* **dns**: the check with 4 record types vs 4 bare dnspython queries;
* **http json**: the http check with 3 JMESPath assertions on a ~20 KB JSON answer vs the
  same check without them (the price of ``json:``);
* **domain**: a cached run (the answer is on disk: what 23 h 59 m of every day cost) vs
  reading the cache file alone; and the one-off load of the Public Suffix List.

Bounded: ~10-20 s. Run: ``.venv/bin/python -m bench.new_checks [--runs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.message
import dns.rdatatype
import dns.rrset
import yarl
from aiohttp import web

from checks.dns import DnsCheck
from checks.domain import DomainCheck, _psl
from checks.domain_cache import Entry, load, save
from checks.http import HttpCheck
from checks.tcp import TcpCheck
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import Check, Context, SiteInfo, SystemClock

RECORDS = {"A": ["192.0.2.10"], "AAAA": ["2001:db8::10"], "MX": ["10 mx1.shop.test."], "TXT": ['"v=spf1 -all"']}


async def cpu_per_run(runs: int, once: Callable[[], Awaitable[Any]]) -> float:
    """Median-free mean CPU ms per call after a warm-up (the loop and servers are ours, so it is all ours)."""
    for _ in range(20):
        await once()
    start = time.thread_time()
    for _ in range(runs):
        await once()
    return (time.thread_time() - start) / runs * 1000


class _Dns(asyncio.DatagramProtocol):
    transport: asyncio.DatagramTransport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        kind = dns.rdatatype.to_text(question.rdtype)
        response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", kind, RECORDS[kind]))
        self.transport.sendto(response.to_wire(), addr)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    runs = parser.parse_args().runs
    loop = asyncio.get_running_loop()
    resolver = ProbeResolver(static={"shop.test": ["127.0.0.1"]}, fallback=None)
    session = make_session(resolver, user_agent="sitewatch-bench")
    log = logging.getLogger("bench")
    rows: list[tuple[str, float, float]] = []

    def context(check: Check[Any]) -> Context:
        return Context(session, check.site, check.type, 5.0, SystemClock(), resolver, log)

    async def banner(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.shop.test ESMTP ready\r\n")
        await writer.drain()
        writer.close()

    tcp_server = await asyncio.start_server(banner, "127.0.0.1", 0)
    tcp_port = tcp_server.sockets[0].getsockname()[1]
    udp, _ = await loop.create_datagram_endpoint(_Dns, local_addr=("127.0.0.1", 0))
    dns_port = udp.get_extra_info("sockname")[1]
    body = {"status": "UP", "errors": [], "components": {f"disk{i}": {"status": "UP", "free": i} for i in range(400)}}
    app = web.Application()
    app.router.add_get("/health", lambda _: web.json_response(body))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    http_port = runner.addresses[0][1]
    try:
        tcp = TcpCheck(
            TcpCheck.Config.model_validate({"host": "127.0.0.1", "port": tcp_port, "steps": [{"expect": "^220"}]}),
            SiteInfo("shop", yarl.URL("http://shop.test/")),
        )

        async def bare_tcp() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
            await reader.readline()
            writer.transport.abort()

        ctx = context(tcp)
        rows.append(("tcp banner", await cpu_per_run(runs, lambda: tcp.run(ctx)), await cpu_per_run(runs, bare_tcp)))

        records = {k: [v.strip('"') for v in vs] for k, vs in RECORDS.items()}
        dns_check = DnsCheck(
            DnsCheck.Config.model_validate({"records": records, "resolvers": [f"127.0.0.1:{dns_port}"]}),
            SiteInfo("shop", yarl.URL("http://shop.test/")),
        )

        async def bare_dns() -> None:
            for kind in RECORDS:
                query = dns.message.make_query("shop.test.", kind)
                await dns.asyncquery.udp(query, "127.0.0.1", timeout=2, port=dns_port)

        ctx = context(dns_check)
        rows.append(
            ("dns 4 types", await cpu_per_run(runs, lambda: dns_check.run(ctx)), await cpu_per_run(runs, bare_dns))
        )

        url = yarl.URL(f"http://shop.test:{http_port}/")
        plain = HttpCheck(HttpCheck.Config.model_validate({"url": "/health"}), SiteInfo("shop", url))
        asserts = ["status == 'UP'", "length(errors) == `0`", {"path": "components.disk7.status", "equals": "UP"}]
        with_json = HttpCheck(
            HttpCheck.Config.model_validate({"url": "/health", "json": asserts}), SiteInfo("shop", url)
        )
        ctx_plain, ctx_json = context(plain), context(with_json)
        assert (await with_json.run(ctx_json)).ok
        rows.append(
            (
                f"http + json: ({len(json.dumps(body)) // 1000} KB)",
                await cpu_per_run(runs, lambda: with_json.run(ctx_json)),
                await cpu_per_run(runs, lambda: plain.run(ctx_plain)),
            )
        )

        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp)
            domain = DomainCheck(
                DomainCheck.Config.model_validate({"cache_dir": str(cache)}),
                SiteInfo("shop", yarl.URL("https://shop.test/")),
            )
            expiry = (dt.datetime.now(dt.UTC) + dt.timedelta(days=90)).timestamp()
            await save(cache, Entry("shop.test", time.time(), expiry, [], "Registrar", "RDAP bench", time.time()))
            ctx = context(domain)
            assert (await domain.run(ctx)).ok
            rows.append(
                (
                    "domain (cached)",
                    await cpu_per_run(runs, lambda: domain.run(ctx)),
                    await cpu_per_run(runs, lambda: load(cache, "shop.test")),
                )
            )
    finally:
        tcp_server.close()
        udp.close()
        await runner.cleanup()
        await session.close()

    _psl.cache_clear()
    start = time.thread_time()
    _psl()
    psl_ms = (time.thread_time() - start) * 1000
    print(f"{'what':<22} {'check ms':>9} {'minimum ms':>11} {'ratio':>6}")
    for name, check_ms, bare_ms in rows:
        print(f"{name:<22} {check_ms:>9.3f} {bare_ms:>11.3f} {check_ms / bare_ms:>6.2f}")
    print(f"Public Suffix List load (once per process): {psl_ms:.1f} ms CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
