"""The http check against real servers on loopback."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator

import pytest
import trustme
from aiohttp import web

from sitewatch.net.httpclient import ProbeResolver
from sitewatch.probe import Status
from tests.helpers import run_check, serve


def samples(record: object) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, s.labels): s.value for s in record.result.samples}  # type: ignore[attr-defined]


def page(text: str, status: int = 200) -> web.Application:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


@pytest.fixture
async def shop() -> AsyncIterator[str]:
    """A small site: a healthy page, an error page, a fatal-error page and redirects."""
    app = web.Application()

    async def home(_: web.Request) -> web.Response:
        return web.Response(text="<html><title>Shop</title>Welcome</html>", content_type="text/html")

    async def broken(_: web.Request) -> web.Response:
        return web.Response(text="oops", status=503)

    async def fatal(_: web.Request) -> web.Response:
        return web.Response(text="<b>Fatal error</b>: Allowed memory size exhausted", content_type="text/html")

    async def loop_a(_: web.Request) -> web.Response:
        raise web.HTTPFound("/loop-b")

    async def loop_b(_: web.Request) -> web.Response:
        raise web.HTTPFound("/loop-a?session=secret")

    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/")

    async def whoami(request: web.Request) -> web.Response:
        return web.json_response(
            {"auth": request.headers.get("Authorization", ""), "method": request.method, "body": await request.text()},
            headers={"X-Backend": "a"},
        )

    for path, handler in [
        ("/", home),
        ("/broken", broken),
        ("/fatal", fatal),
        ("/loop-a", loop_a),
        ("/loop-b", loop_b),
        ("/moved", moved),
        ("/whoami", whoami),
    ]:
        app.router.add_route("*", path, handler)
    async with serve(app) as url:
        yield url


async def test_healthy_page_is_ok_with_phases(shop: str) -> None:
    """A 200 page is ok; status code, body length and phase timings are exported."""
    record = await run_check("http", {"contains": ["Welcome"]}, url=shop + "/")
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.summary.startswith("HTTP 200 OK in ")
    values = samples(record)
    assert values[("probe_http_status_code", ())] == 200
    assert values[("probe_http_uncompressed_body_length", ())] == len("<html><title>Shop</title>Welcome</html>")
    assert values[("probe_http_duration_seconds", (("phase", "connect"),))] > 0
    assert values[("probe_http_duration_seconds", (("phase", "processing"),))] > 0


async def test_status_mismatch_is_critical(shop: str) -> None:
    """A 503 where 200-399 is expected is critical and says both."""
    record = await run_check("http", {}, url=shop + "/broken")
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "HTTP 503 Service Unavailable (expected 200-399)"


async def test_expected_status_can_be_a_class(shop: str) -> None:
    """`expect_status: ["5xx"]` accepts the 503."""
    record = await run_check("http", {"expect_status": ["5xx"]}, url=shop + "/broken")
    assert record.result.status is Status.OK


async def test_must_not_contain_fatal_error(shop: str) -> None:
    """A 200 page showing a PHP fatal error is critical, with the matched text in details."""
    record = await run_check("http", {"not_contains": ["Fatal error"]}, url=shop + "/fatal")
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "page contains 'Fatal error' (HTTP 200 OK)"
    assert "Allowed memory size exhausted" in record.result.details["matched"]


async def test_must_contain_and_regex(shop: str) -> None:
    """Missing required text is critical; a regex matcher is named with slashes."""
    record = await run_check("http", {"contains": [{"regex": "Basket \\d+"}, "Welcome"]}, url=shop + "/")
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "page does not contain /Basket \\d+/ (HTTP 200 OK)"


async def test_redirect_is_followed_and_counted(shop: str) -> None:
    """A 301 is followed; the final status is judged and redirects are exported."""
    record = await run_check("http", {}, url=shop + "/moved")
    assert record.result.status is Status.OK
    assert samples(record)[("probe_http_redirects", ())] == 1


async def test_redirect_loop_is_a_clear_failure(shop: str) -> None:
    """A → B → A fails fast with the chain spelled out, without query strings."""
    record = await run_check("http", {}, url=shop + "/loop-a")
    assert record.result.status is Status.CRITICAL
    assert record.result.summary.startswith("redirect loop: ")
    assert "/loop-a -> " in record.result.summary
    assert "secret" not in record.result.summary


async def test_redirect_limit(shop: str) -> None:
    """With max_redirects: 0 a redirect is itself a failure."""
    record = await run_check("http", {"max_redirects": 0}, url=shop + "/moved")
    assert record.result.status is Status.CRITICAL
    assert record.result.summary.startswith("more than 0 redirects")


async def test_auth_method_and_body_are_sent(shop: str) -> None:
    """Bearer auth, the method and the body reach the server; header expectations are checked."""
    record = await run_check(
        "http",
        {
            "method": "POST",
            "body": "ping",
            "bearer_token": "t0k",
            "contains": ['"auth": "Bearer t0k"', '"method": "POST"', '"body": "ping"'],
            "expect_headers": {"x-backend": "^a$", "Content-Type": "json"},
        },
        url=shop + "/whoami",
    )
    assert record.result.status is Status.OK, record.result.summary
    basic = await run_check(
        "http",
        {"basic_auth": {"username": "ops", "password": "pw"}, "contains": ["Basic b3BzOnB3"]},
        url=shop + "/whoami",
    )
    assert basic.result.status is Status.OK, basic.result.summary


async def test_header_expectation_failure(shop: str) -> None:
    """A header that does not match is critical and named."""
    record = await run_check("http", {"expect_headers": {"X-Backend": "^b$"}}, url=shop + "/whoami")
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "header X-Backend is 'a' (expected /^b$/)"


async def test_slow_response_past_timeout_is_an_error() -> None:
    """A server that never answers costs the check its timeout and says where it was stuck."""
    release = asyncio.Event()

    async def hang(_: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/", hang)
    async with serve(app) as url:
        record = await run_check("http", {}, url=url + "/", timeout=0.5)
        release.set()
    assert record.result.status is Status.ERROR
    assert record.result.summary.startswith("timed out after 500ms waiting for the response headers (127.0.0.1)")
    assert record.duration < 1.5


async def test_endless_body_is_capped() -> None:
    """An endless body is read only up to max_body; the rest is left unread."""

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b"x" * 65536
        try:
            for _ in range(100_000):
                await response.write(chunk)
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    app = web.Application()
    app.router.add_get("/", endless)
    async with serve(app) as url:
        record = await run_check("http", {"max_body": "256KiB"}, url=url + "/")
    assert record.result.status is Status.OK, record.result.summary
    assert samples(record)[("probe_http_uncompressed_body_length", ())] == 256 * 1024
    assert record.result.details["body_truncated"] is True


async def test_connection_refused_is_an_error() -> None:
    """A closed port cannot be measured: error, with the address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    record = await run_check("http", {}, url=f"http://127.0.0.1:{port}/")
    assert record.result.status is Status.ERROR
    assert record.result.summary.startswith(f"cannot connect to 127.0.0.1:{port}")


async def test_unresolvable_name_is_an_error() -> None:
    """A name that does not resolve is an error that names the host."""
    record = await run_check("http", {}, url="http://shop.invalid/", hosts={})
    assert record.result.status is Status.ERROR
    assert record.result.summary.startswith("cannot resolve shop.invalid")


async def test_self_signed_certificate(server_ssl: ssl.SSLContext) -> None:
    """Verification on: an untrusted certificate is critical. Off: the page is judged normally."""
    async with serve(page("secure"), ssl_context=server_ssl) as url:
        port = url.rsplit(":", 1)[1]
        target = f"https://shop.test:{port}/"
        hosts = {"shop.test": ["127.0.0.1"]}
        strict = await run_check("http", {}, url=target, hosts=hosts)
        relaxed = await run_check("http", {"verify_tls": False, "contains": ["secure"]}, url=target, hosts=hosts)
    assert strict.result.status is Status.CRITICAL
    assert strict.result.summary.startswith("TLS certificate of shop.test is not valid")
    assert relaxed.result.status is Status.OK, relaxed.result.summary
    assert samples(relaxed)[("probe_http_duration_seconds", (("phase", "tls"),))] > 0
    assert samples(relaxed)[("probe_http_ssl", ())] == 1


async def test_resolve_override_hits_the_named_backend() -> None:
    """`resolve:` sends the request to one backend while Host stays the site's name."""
    seen: dict[str, str] = {}

    def backend(name: str) -> web.Application:
        async def handler(request: web.Request) -> web.Response:
            seen[name] = request.host
            return web.Response(text=f"backend {name}")

        app = web.Application()
        app.router.add_get("/", handler)
        return app

    async with serve(backend("a"), host="127.0.0.2") as url_a:
        port = int(url_a.rsplit(":", 1)[1])
        runner = web.AppRunner(backend("b"), access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.3", port).start()
        try:
            record = await run_check(
                "http",
                {"resolve": "127.0.0.3", "contains": ["backend b"]},
                url=f"http://shop.test:{port}/",
                hosts={"shop.test": ["127.0.0.2"]},
            )
        finally:
            await runner.cleanup()
    assert record.result.status is Status.OK, record.result.summary
    assert seen == {"b": f"shop.test:{port}"}


async def test_trusted_ca_and_ip_preference(ca: trustme.CA, server_ssl: ssl.SSLContext) -> None:
    """With ip_protocol: ip6 and no fallback, a v4-only name is an error that says so."""
    async with serve(page("ok"), ssl_context=server_ssl) as url:
        port = url.rsplit(":", 1)[1]
        record = await run_check(
            "http",
            {"ip_protocol": "ip6", "ip_fallback": False, "verify_tls": False},
            url=f"https://shop.test:{port}/",
            resolver=ProbeResolver(static={"shop.test": ["127.0.0.1"]}, fallback=None),
        )
    assert record.result.status is Status.ERROR
    assert "has no ip6 address" in record.result.summary


@pytest.mark.parametrize(
    ("location", "words"),
    [
        (
            "http://169.254.169.254/latest/meta-data/",
            "redirect to 169.254.169.254, a link-local/metadata address: refused",
        ),
        ("http://[fd00:ec2::254]/", "redirect to fd00:ec2::254, a link-local/metadata address: refused"),
        ("http://metadata.test/computeMetadata/v1/", "redirect refused: metadata.test resolves to 169.254.169.254"),
        ("file:///etc/passwd", "redirect to unsupported scheme 'file': refused"),
    ],
)
async def test_redirects_to_metadata_addresses_are_refused(location: str, words: str) -> None:
    """A probed site is untrusted: it cannot steer the agent to cloud metadata or local files."""

    async def bounce(_: web.Request) -> web.Response:
        raise web.HTTPFound(location)

    app = web.Application()
    app.router.add_get("/", bounce)
    async with serve(app) as url:
        port = url.rsplit(":", 1)[1]
        record = await run_check(
            "http",
            {},
            url=f"http://shop.test:{port}/",
            hosts={"shop.test": ["127.0.0.1"], "metadata.test": ["169.254.169.254"]},
        )
    assert record.result.status is Status.CRITICAL
    assert words in record.result.summary
