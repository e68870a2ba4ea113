"""The ``domain`` check against a loopback RDAP server and a loopback WHOIS server in real answer shapes."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import json
import textwrap
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import pytest
from aiohttp import web

from checks.domain import registrable
from checks.domain_config import DomainConfig
from checks.domain_whois import parse_whois
from sitewatch.config.loader import load_config
from sitewatch.probe import Status
from tests.helpers import run_check, serve
from tests.registry_answers import bootstrap, rdap_domain, tci_not_found, tci_whois

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)


def day(when: dt.datetime) -> str:
    return f"{when:%Y-%m-%d}"


async def _gzip_chunked(request: web.Request, body: bytes) -> web.StreamResponse:
    """The answer gzip'd and chunked in many small writes, as RDAP servers behind a CDN send it."""
    response = web.StreamResponse(headers={"Content-Type": "application/rdap+json", "Content-Encoding": "gzip"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    packed = gzip.compress(body)
    for at in range(0, len(packed), 256):
        await response.write(packed[at : at + 256])
    await response.write_eof()
    return response


@dataclass
class Rdap:
    """The loopback RDAP server: base URL, bootstrap URL and the queries it served."""

    base: str = ""
    hits: Counter[str] = field(default_factory=Counter)

    @property
    def bootstrap_url(self) -> str:
        return f"{self.base}/bootstrap/dns.json"


@pytest.fixture
async def rdap() -> AsyncIterator[Rdap]:
    """RDAP for .com under /com/v1/ (Verisign's layout) with one behaviour per domain name."""
    server = Rdap()
    answers: dict[str, Callable[[web.Request], Any]] = {}

    def domain_object(expires: dt.datetime, statuses: list[str] | None = None) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            name = request.match_info["name"]
            return await _gzip_chunked(request, json.dumps(rdap_domain(name, expires, statuses)).encode())

        return handler

    async def not_found(_: web.Request) -> web.Response:
        return web.json_response(
            {"errorCode": 404, "title": "Not Found"}, status=404, content_type="application/rdap+json"
        )

    async def garbage(_: web.Request) -> web.Response:
        return web.Response(text="<html><body>Service temporarily unavailable</body></html>", content_type="text/html")

    async def limited(_: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "7200"}, text="slow down")

    async def huge(request: web.Request) -> web.StreamResponse:
        # 50 MB of a never-ending JSON array, chunked (no Content-Length: only the read cap stops it).
        response = web.StreamResponse(headers={"Content-Type": "application/rdap+json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        piece = b'{"objectClassName":"domain","padding":"' + b"x" * 65000 + b'"},'
        with contextlib.suppress(ConnectionError):
            await response.write(b"[")
            for _ in range(50 * 1024 * 1024 // len(piece)):
                await response.write(piece)
        return response

    answers.update(
        {
            "shop-ok.com": domain_object(NOW + 200 * DAY + dt.timedelta(hours=2)),
            "shop-soon.com": domain_object(NOW + 5 * DAY + dt.timedelta(hours=2)),
            "shop-month.com": domain_object(NOW + 20 * DAY + dt.timedelta(hours=2)),
            "held.com": domain_object(NOW + 200 * DAY, ["client hold", "client transfer prohibited"]),
            "gone.com": not_found,
            "garbage.com": garbage,
            "limited.com": limited,
            "huge.com": huge,
        }
    )

    async def domain(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"].lower()
        server.hits[name] += 1
        handler = answers.get(name, not_found)
        result: web.StreamResponse = await handler(request)
        return result

    async def dns_json(request: web.Request) -> web.StreamResponse:
        server.hits["bootstrap"] += 1
        return await _gzip_chunked(request, json.dumps(bootstrap(server.base, {"com": "/com/v1/"})).encode())

    app = web.Application()
    app.router.add_get("/com/v1/domain/{name}", domain)
    app.router.add_get("/bootstrap/dns.json", dns_json)
    async with serve(app) as base:
        server.base = base
        yield server


@dataclass
class Whois:
    """The loopback WHOIS server's address and the names it was asked for."""

    address: str = ""
    asked: list[str] = field(default_factory=list)


@pytest.fixture
async def whois() -> AsyncIterator[Whois]:
    """A TCP-43-style server speaking TCI's shape; never-closes.ru is answered halfway and held open."""
    state = Whois()
    handlers: set[asyncio.Task[None]] = set()
    answers = {
        "shop.ru": tci_whois("shop.ru", NOW + 5 * DAY + dt.timedelta(hours=2)),
        "xn--e1afmkfd.xn--p1ai": tci_whois("xn--e1afmkfd.xn--p1ai", NOW + 100 * DAY + dt.timedelta(hours=2)),
        "parked.su": tci_whois("parked.su", NOW + 100 * DAY, "REGISTERED, NOT DELEGATED, VERIFIED"),
    }

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            name = (await reader.readline()).decode().strip().lower()
            state.asked.append(name)
            if name == "never-closes.ru":
                writer.write(tci_whois(name, NOW + 100 * DAY)[:200].encode())
                await writer.drain()
                await asyncio.Event().wait()  # holds the connection until cancelled
            if name == "flood.ru":  # 2 MiB of a TCI-looking answer: over max_answer
                with contextlib.suppress(ConnectionError):
                    for _ in range(2048):
                        writer.write(b"nserver:       ns.flood.ru.\r\n" * 32)
                        await writer.drain()
            answer = answers.get(name, tci_not_found()).encode()
            if name == "garbage.ru":
                answer = b"\x00\xff<html>Access denied</html>\r\nretry later\r\n"
            for at in range(0, len(answer), 64):  # many small writes, as a real server's may arrive
                writer.write(answer[at : at + 64])
                await writer.drain()
        finally:
            writer.transport.abort()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    state.address = f"127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        listener.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await listener.wait_closed()


async def check(url: str, tmp_path: Path, timeout: float = 5.0, **settings: Any) -> Any:  # noqa: ASYNC109
    """Run the domain check for the site at ``url`` with its cache in ``tmp_path``."""
    settings.setdefault("cache_dir", str(tmp_path / "cache"))
    return (await run_check("domain", settings, url=url, timeout=timeout)).result


async def test_com_through_rdap_ok_with_registrar(rdap: Rdap, tmp_path: Path) -> None:
    """A .com far from expiry: ok, the date and registrar from the RDAP answer; the metric is the expiry."""
    result = await check("https://www.shop-ok.com/", tmp_path, rdap_bootstrap_url=rdap.bootstrap_url)
    expires = NOW + 200 * DAY + dt.timedelta(hours=2)
    assert result.status is Status.OK, result.summary
    assert result.summary == (
        f"shop-ok.com expires in 200 days ({day(expires)}), registrar Example Registrar, Inc."
        f" (RDAP {rdap.base}/com/v1/)"
    )
    (expiry,) = (s.value for s in result.samples if s.name == "probe_domain_expiry_timestamp_seconds")
    assert expiry == expires.timestamp()


async def test_com_expiring_in_5_days_is_critical_with_the_date(rdap: Rdap, tmp_path: Path) -> None:
    """Under crit_days (7) is critical and says the date; under warn_days (30) a warning."""
    soon = await check("https://shop-soon.com/", tmp_path, rdap_bootstrap_url=rdap.bootstrap_url)
    month = await check("https://shop-month.com/", tmp_path, rdap_bootstrap_url=rdap.bootstrap_url)
    assert soon.status is Status.CRITICAL
    assert soon.summary == f"shop-soon.com expires in 5 days ({day(NOW + 5 * DAY)}) (RDAP {rdap.base}/com/v1/)"
    assert month.status is Status.WARNING
    assert month.summary.startswith(f"shop-month.com expires in 20 days ({day(NOW + 20 * DAY)})")


async def test_client_hold_is_critical(rdap: Rdap, tmp_path: Path) -> None:
    """RDAP's "client hold" (EPP clientHold) takes the site off the internet: critical."""
    result = await check("https://held.com/", tmp_path, rdap_bootstrap_url=rdap.bootstrap_url)
    assert result.status is Status.CRITICAL
    assert result.summary == f"held.com is on registry status client hold (RDAP {rdap.base}/com/v1/)"


async def test_asked_at_most_once_per_refresh(rdap: Rdap, tmp_path: Path) -> None:
    """Two runs (and two sites of one domain) make one RDAP query; the cache file is written atomically."""
    first = await check("https://shop-ok.com/", tmp_path, rdap_bootstrap_url=rdap.bootstrap_url)
    second = await check("https://www.shop-ok.com/", tmp_path, rdap_bootstrap_url=rdap.bootstrap_url)
    assert first.status is second.status is Status.OK
    assert rdap.hits["shop-ok.com"] == 1
    assert rdap.hits["bootstrap"] == 1
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert not [f for f in files if f.endswith(".tmp")]
    assert len(files) == 2  # the domain's answer and the refreshed bootstrap


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://gone.com/", "has no record of gone.com (HTTP 404): not registered, or deleted?"),
        ("https://garbage.com/", "is not JSON"),
        ("https://huge.com/", "RDAP answer is larger than max_answer 1.0 MiB: refused"),
    ],
)
async def test_rdap_failures_are_errors(rdap: Rdap, tmp_path: Path, url: str, reason: str) -> None:
    """404, an HTML page and a 50 MB answer (read capped at 1 MiB) each end in error with the reason."""
    result = await check(url, tmp_path, rdap_bootstrap_url=rdap.bootstrap_url)
    assert result.status is Status.ERROR
    assert reason in result.summary


async def test_unwritable_cache_still_asks_once(rdap: Rdap, tmp_path: Path) -> None:
    """A cache directory that cannot be written (a file is in its way): the process remembers, one query."""
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    for _ in range(2):
        result = await check(
            "https://shop-ok.com/", tmp_path, rdap_bootstrap_url=rdap.bootstrap_url, cache_dir=str(blocked)
        )
        assert result.status is Status.OK, result.summary
    assert rdap.hits["shop-ok.com"] == 1


async def test_rate_limit_honours_retry_after(rdap: Rdap, tmp_path: Path) -> None:
    """429 is an error naming Retry-After, and no query is made again before it has passed."""
    first = await check("https://limited.com/", tmp_path, rdap_bootstrap_url=rdap.bootstrap_url)
    second = await check("https://limited.com/", tmp_path, rdap_bootstrap_url=rdap.bootstrap_url)
    assert first.status is second.status is Status.ERROR
    assert "rate-limiting us: HTTP 429 (Retry-After 7200s)" in first.summary
    assert "(next attempt after " in second.summary
    assert rdap.hits["limited.com"] == 1


async def test_ru_through_whois_critical_in_5_days(whois: Whois, tmp_path: Path) -> None:
    """A .ru expiring in 5 days, read from TCI's paid-till:, is critical with the date."""
    result = await check("https://shop.ru/", tmp_path, whois_server=whois.address)
    assert result.status is Status.CRITICAL
    assert result.summary == f"shop.ru expires in 5 days ({day(NOW + 5 * DAY)}) (WHOIS {whois.address})"
    assert whois.asked == ["shop.ru"]


async def test_idn_in_both_forms(whois: Whois, tmp_path: Path) -> None:
    """пример.рф and xn--e1afmkfd.xn--p1ai are one domain: asked by its A-label, shown in both."""
    by_url = await check("https://www.пример.рф/", tmp_path / "a", whois_server=whois.address)
    by_name = await check("https://x.test/", tmp_path / "b", whois_server=whois.address, domain="xn--e1afmkfd.xn--p1ai")
    assert by_url.status is by_name.status is Status.OK
    assert by_url.summary.startswith("пример.рф (xn--e1afmkfd.xn--p1ai) expires in 100 days")
    assert whois.asked == ["xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"]


async def test_not_delegated_su_is_critical(whois: Whois, tmp_path: Path) -> None:
    """TCI's state NOT DELEGATED (no name servers in the zone) is a hold: critical."""
    result = await check("https://parked.su/", tmp_path, whois_server=whois.address)
    assert result.status is Status.CRITICAL
    assert "parked.su is on registry status NOT DELEGATED" in result.summary


async def test_whois_failures_are_errors(whois: Whois, tmp_path: Path) -> None:
    """A name WHOIS does not know, a server that never closes (timeout), an answer over max_answer
    and one with no expiry date are all errors with the reason."""
    unknown = await check("https://free.ru/", tmp_path, whois_server=whois.address)
    held_open = await check("https://never-closes.ru/", tmp_path, whois_server=whois.address, timeout=0.5)
    flood = await check("https://flood.ru/", tmp_path, whois_server=whois.address)
    garbage = await check("https://garbage.ru/", tmp_path, whois_server=whois.address)
    assert unknown.status is Status.ERROR
    assert unknown.summary.startswith(
        f"free.ru: WHOIS {whois.address} has no record of free.ru: not registered, or deleted? (next attempt after "
    )
    assert flood.status is garbage.status is Status.ERROR
    assert flood.summary.startswith(f"flood.ru: WHOIS answer from {whois.address} is larger than max_answer 1.0 MiB")
    assert garbage.summary.startswith(f"garbage.ru: WHOIS {whois.address} answer has no expiry date this parser knows")
    assert held_open.status is Status.ERROR
    assert held_open.summary.startswith(f"never-closes.ru: timed out after 500ms asking WHOIS {whois.address}")


async def test_failed_bootstrap_refresh_keeps_the_shipped_table(rdap: Rdap, tmp_path: Path) -> None:
    """A bootstrap URL that answers 404: the shipped table still routes .com to Verisign (whose
    name the test resolver does not know, so nothing leaves loopback and the run is an error)."""
    result = await check("https://shop-ok.com/", tmp_path, rdap_bootstrap_url=f"{rdap.base}/missing/dns.json")
    assert result.status is Status.ERROR
    assert result.summary.startswith("shop-ok.com: request to RDAP https://rdap.verisign.com/com/v1/ failed: ")
    assert rdap.hits["shop-ok.com"] == 0


async def test_routes_without_network(tmp_path: Path) -> None:
    """.ru goes to TCI's WHOIS by default (its name is not resolvable here: an error naming it); an
    unknown TLD with neither RDAP nor WHOIS is an error that says to set whois_server:."""
    ru = await check("https://shop.ru/", tmp_path)
    zz = await check("https://shop.zz/", tmp_path)
    assert ru.status is zz.status is Status.ERROR
    assert ru.summary.startswith("shop.ru: cannot resolve WHOIS server whois.tcinet.ru")
    assert zz.summary.startswith(
        "shop.zz: no RDAP service for .zz in the bootstrap file and no WHOIS server known for it (set whois_server:)"
    )


def test_registrable_domain_from_the_public_suffix_list() -> None:
    """The ICANN section of the PSL picks the registered domain; IPs and bare suffixes have none."""
    assert registrable("www.shop.example.co.uk") == "example.co.uk"
    assert registrable("shop.github.io") == "github.io"  # a private-section suffix is not a registry
    assert registrable("www.пример.рф") == "xn--e1afmkfd.xn--p1ai"
    assert registrable("192.0.2.1") is None
    assert registrable("co.uk") is None


def test_gtld_whois_shape() -> None:
    """The gTLD shape: Registry Expiry Date and Domain Status lines with their ICANN links."""
    text = textwrap.dedent(
        """\
        Domain Name: SHOP.EXAMPLE
        Registrar: Example Registrar, Inc.
        Registry Expiry Date: 2027-08-13T04:00:00Z
        Domain Status: clientHold https://icann.org/epp#clientHold
        Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited
        >>> Last update of whois database: 2026-12-07T09:00:00Z <<<
        """
    )
    found = parse_whois(text, "WHOIS test", "shop.example")
    assert found.expiry == dt.datetime(2027, 8, 13, 4, tzinfo=dt.UTC).timestamp()
    assert found.statuses == ("clientHold", "clientTransferProhibited")
    assert found.registrar == "Example Registrar, Inc."


async def test_no_query_at_config_load(rdap: Rdap, tmp_path: Path) -> None:
    """Loading a config with domain checks asks nothing of the registry or the bootstrap URL."""
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            sites:
              - name: shop
                url: https://shop-ok.com/
                checks:
                  - type: domain
                    rdap_bootstrap_url: {rdap.bootstrap_url}
            """
        )
    )
    config = load_config(path)
    assert [c.type for c in config.checks] == ["domain"]
    assert sum(rdap.hits.values()) == 0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"crit_days": 40}, "must not exceed warn_days"),
        ({"refresh": "5m"}, "refresh must be at least 1h"),
        ({"domain": "localhost"}, "expected a registered domain"),
        ({"whois_server": "whois.example:notaport"}, "expected a WHOIS server"),
        ({"rdap_bootstrap_url": "ftp://x.example/dns.json"}, "expected an http"),
    ],
)
def test_bad_settings_are_config_errors(settings: dict[str, object], message: str) -> None:
    """Thresholds, refresh, names and URLs are checked at load."""
    with pytest.raises(pydantic.ValidationError, match=message):
        DomainConfig.model_validate(settings)
