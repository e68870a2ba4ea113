"""Memory of the http check under the agent's own collector settings: a run's page is freed when the run ends."""

from __future__ import annotations

import asyncio
import gc
import gzip
import weakref
from collections.abc import AsyncIterator, Iterator

import pytest

from sitewatch.net import httpexchange
from sitewatch.probe import Status
from sitewatch.runtime import GC_YOUNG_THRESHOLD
from tests.helpers import run_check

#: A catalogue page of about 1.7 MiB, as a big shop's category page is.
PAGE = b"<html><body>" + b"".join(b"<li class='product'>item %06d in stock</li>\n" % i for i in range(40_000))
PAGE += b"</body></html>"
RUNS = 40


@pytest.fixture
def agent_collector() -> Iterator[None]:
    """The collector as ``sitewatch run`` leaves it: everything so far frozen, young generation every 20,000."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


@pytest.fixture
async def big_page() -> AsyncIterator[str]:
    """A loopback server sending ``PAGE`` gzip'd and chunked, 16 KiB per write."""
    packed = gzip.compress(PAGE)
    body = b"".join(
        b"%x\r\n%s\r\n" % (len(packed[i : i + 8192]), packed[i : i + 8192]) for i in range(0, len(packed), 8192)
    )
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        + body
        + b"0\r\n\r\n"
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for at in range(0, len(reply), 16384):
            writer.write(reply[at : at + 16384])
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    finally:
        server.close()
        await server.wait_closed()


async def test_large_pages_are_freed_after_each_run(
    agent_collector: None, big_page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After 40 runs of a 1.7 MiB page, no response object of a finished run is alive (no gc.collect between)."""
    alive: list[weakref.ref[object]] = []
    real = httpexchange._Response

    class Watched(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            alive.append(weakref.ref(self))

    monkeypatch.setattr(httpexchange, "_Response", Watched)
    for _ in range(RUNS):
        record = await run_check("http", {"contains": ["item 039999 in stock"]}, url=big_page)
        assert record.result.status is Status.OK, record.result.summary
    still = sum(1 for ref in alive if ref() is not None)
    assert len(alive) == RUNS
    assert still == 0, f"{still} of {RUNS} responses (each holding its page) still alive"
