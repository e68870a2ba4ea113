"""The ``dns`` check against Debian's dnsmasq on loopback and against hostile servers written here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pydantic
import pytest

from checks.dns_config import DnsConfig
from sitewatch.probe import Status
from tests.dns_servers import ToyServer, dnsmasq, silent_resolver, toy_server
from tests.helpers import run_check

RECORDS = (
    "--host-record=shop.test,192.0.2.10,2001:db8::10",
    "--mx-host=shop.test,mx1.shop.test,10",
    "--txt-record=shop.test,v=spf1 ip4:192.0.2.0/24 -all",
    "--cname=www.shop.test,shop.test",
)
EXPECTED = {
    "A": ["192.0.2.10"],
    "AAAA": ["2001:db8:0::10"],  # written unnormalised on purpose
    "MX": ["10 MX1.shop.test"],  # names compare case-insensitively, the trailing dot is implied
    "TXT": ["v=spf1 ip4:192.0.2.0/24 -all"],
}


def samples(record: object) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, s.labels): s.value for s in record.result.samples}  # type: ignore[attr-defined]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[str]:
    """dnsmasq with shop.test's A, AAAA, MX, TXT and a CNAME; yields its address."""
    async with dnsmasq(tmp_path, *RECORDS) as port:
        yield f"127.0.0.1:{port}"


async def test_expected_records_are_ok(server: str) -> None:
    """Every record type matches as a set: ok, with timings and answer counts per type."""
    record = await run_check("dns", {"records": EXPECTED, "resolvers": [server]}, url="https://shop.test/")
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.summary.startswith("shop.test: A '192.0.2.10', AAAA '2001:db8::10', MX '10 mx1.shop.test.'")
    found = samples(record)
    assert found[("probe_dns_answer_rrs", (("type", "MX"),))] == 1
    assert found[("probe_dns_lookup_time_seconds", (("type", "TXT"),))] > 0
    assert found[("sitewatch_dns_authenticated", ())] == 0  # dnsmasq does not validate here


async def test_changed_mx_is_critical_with_old_and_new(server: str) -> None:
    """An MX that is not the expected one is critical and names the expected and the actual record."""
    settings = {"records": {"MX": ["10 mx2.shop.test", "20 backup.mx.test"]}, "resolvers": [server]}
    record = await run_check("dns", settings, url="https://shop.test/")
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == (
        "shop.test MX: expected '10 mx2.shop.test.', '20 backup.mx.test.', got '10 mx1.shop.test.'"
    )
    assert record.result.details["answers"][server]["MX"]["records"] == ["10 mx1.shop.test."]


async def test_cname_is_compared_by_its_target(server: str) -> None:
    """A CNAME is asked as such; an empty expectation means 'no record of this type'."""
    settings = {"name": "www.shop.test", "records": {"CNAME": ["shop.test"]}, "resolvers": [server]}
    assert (await run_check("dns", settings)).result.status is Status.OK
    async with toy_server(ToyServer({"A": ["192.0.2.10"]})) as toy:
        settings = {"records": {"CNAME": []}, "resolvers": [f"127.0.0.1:{toy.port}"]}
        record = await run_check("dns", settings, url="https://shop.test/")
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.summary.startswith("shop.test: CNAME none in ")


async def test_resolvers_that_disagree_are_named(server: str) -> None:
    """With two resolvers, the one whose answer differs from the expected records is named."""
    async with toy_server(ToyServer({"A": ["192.0.2.77"]})) as toy:
        settings = {"records": {"A": ["192.0.2.10"]}, "resolvers": [server, f"127.0.0.1:{toy.port}"]}
        record = await run_check("dns", settings, url="https://shop.test/")
        unpinned = await run_check("dns", {"resolvers": [server, f"127.0.0.1:{toy.port}"]}, url="https://shop.test/")
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == f"shop.test A from 127.0.0.1:{toy.port}: expected '192.0.2.10', got '192.0.2.77'"
    assert unpinned.result.status is Status.CRITICAL
    assert unpinned.result.summary.startswith(
        f"resolvers disagree on shop.test A: {server} says '192.0.2.10', 127.0.0.1:{toy.port} says '192.0.2.77'"
    )


async def test_truncated_udp_answer_falls_back_to_tcp() -> None:
    """A TC=1 UDP reply is asked again over TCP; the record only the TCP side serves is the one judged."""
    toy = ToyServer({"A": ["192.0.2.77"]}, truncate_udp=True)
    async with toy_server(toy):
        settings = {"records": {"A": ["192.0.2.77"]}, "resolvers": [f"127.0.0.1:{toy.port}"]}
        record = await run_check("dns", settings, url="https://shop.test/")
    assert record.result.status is Status.OK, record.result.summary
    assert toy.udp_queries == 1
    assert toy.tcp_queries == 1


async def test_truncated_answer_and_no_tcp_is_an_error() -> None:
    """TC=1 over UDP and nothing on TCP: an error that says the TCP retry was refused."""
    toy = ToyServer({"A": ["192.0.2.77"]}, truncate_udp=True)
    async with toy_server(toy, tcp=False):
        settings = {"records": {"A": ["192.0.2.77"]}, "resolvers": [f"127.0.0.1:{toy.port}"]}
        record = await run_check("dns", settings, url="https://shop.test/")
    assert record.result.status is Status.ERROR
    assert record.result.summary == f"shop.test A: 127.0.0.1:{toy.port} failed to answer: Connection refused (over TCP)"


async def test_silent_resolver_is_a_timeout_error() -> None:
    """A resolver that never answers: error naming it and the time waited, not ok."""
    with silent_resolver() as port:
        settings = {"records": {"A": ["192.0.2.10"]}, "resolvers": [f"127.0.0.1:{port}"]}
        record = await run_check("dns", settings, url="https://shop.test/", timeout=1)
    assert record.result.status is Status.ERROR
    assert record.result.summary == f"shop.test A: no answer from 127.0.0.1:{port} within 800ms"


async def test_nxdomain_is_an_answer() -> None:
    """NXDOMAIN is an answer: critical when records are expected, and said so."""
    async with toy_server(ToyServer({}, nxdomain=True)) as toy:
        settings = {"records": {"A": ["192.0.2.10"]}, "resolvers": [f"127.0.0.1:{toy.port}"]}
        record = await run_check("dns", settings, url="https://gone.test/")
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "gone.test A: expected '192.0.2.10', got none (NXDOMAIN)"


async def test_refused_is_an_error(server: str) -> None:
    """dnsmasq refuses a name it does not serve: error with the rcode."""
    record = await run_check("dns", {"records": {"A": ["192.0.2.10"]}, "resolvers": [server]}, url="https://x.test/")
    assert record.result.status is Status.ERROR
    assert record.result.summary == f"x.test A: {server} failed to answer: REFUSED"


async def test_dnssec_requires_the_ad_flag(server: str) -> None:
    """dnssec: true is critical without AD (dnsmasq here) and ok when the resolver sets it."""
    settings = {"records": {"A": ["192.0.2.10"]}, "resolvers": [server], "dnssec": True}
    plain = await run_check("dns", settings, url="https://shop.test/")
    async with toy_server(ToyServer({"A": ["192.0.2.10"]}, authenticated=True)) as toy:
        settings = {**settings, "resolvers": [f"127.0.0.1:{toy.port}"]}
        validated = await run_check("dns", settings, url="https://shop.test/")
    assert plain.result.status is Status.CRITICAL
    assert plain.result.summary == f"shop.test A from {server} is not DNSSEC-validated (no AD flag)"
    assert validated.result.status is Status.OK, validated.result.summary
    assert samples(validated)[("sitewatch_dns_authenticated", ())] == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"records": {"MX": ["mx1.shop.test"]}}, "MX: invalid record 'mx1.shop.test'"),
        ({"records": {"SRV": []}}, "unsupported record type 'SRV'"),
        ({"records": {"A": ["192.0.2"]}}, "A: invalid record '192.0.2'"),
        ({"resolvers": ["dns.example"]}, "expected a resolver IP address"),
        ({"resolvers": ["127.0.0.1:0"]}, "port must be 1-65535"),
    ],
)
def test_bad_settings_are_config_errors(settings: dict[str, object], message: str) -> None:
    """Records are parsed and resolvers checked at load."""
    with pytest.raises(pydantic.ValidationError, match=message):
        DnsConfig.model_validate(settings)
