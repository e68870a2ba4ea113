"""The status page in a real browser: Debian's chromium, headless, against `sitewatch demo` on loopback.

`make test` installs chromium and sets SITEWATCH_REQUIRE_BROWSER=1, so CI fails instead of skipping
when the browser is missing. The screenshot goes to $SITEWATCH_ARTIFACTS (default tests/artifacts/).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import free_port, start_demo, wait_for
from tests.statuspage_helpers import Dom

ARTIFACTS = Path(os.environ.get("SITEWATCH_ARTIFACTS") or Path(__file__).resolve().parent / "artifacts")
EXPECTED = {"demo-healthy": "ok", "demo-slow": "ok", "demo-error": "critical", "demo-fatal": "critical"}
BROWSER_SECONDS = 60.0

pytestmark = [pytest.mark.slow, pytest.mark.external]


def chromium() -> str:
    """Path of Debian's chromium; skip without it unless SITEWATCH_REQUIRE_BROWSER says CI needs it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("SITEWATCH_REQUIRE_BROWSER"):
            pytest.fail("chromium is missing: `make test` installs Debian package chromium")
        pytest.skip("chromium not installed (`make test` installs it)")
    return path


def browser_args(profile: Path) -> list[str]:
    """Headless, as root, and silent: no first-run, sync, update or background traffic; names resolve nowhere."""
    return [
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-domain-reliability",
        "--disable-breakpad",
        "--metrics-recording-only",
        "--no-pings",
        # Any host name fails to resolve: the page could not load anything from elsewhere even if it tried.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--hide-scrollbars",
        "--window-size=1280,1000",
    ]


async def run_browser(args: list[str]) -> bytes:
    """Run chromium to completion within BROWSER_SECONDS; its whole process group dies on timeout."""
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=BROWSER_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise AssertionError(f"chromium did not finish within {BROWSER_SECONDS:g}s") from None
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


@pytest.fixture
async def demo() -> AsyncIterator[str]:
    """`sitewatch demo` on a free loopback port, once every demo site has been checked; yields its base URL."""
    listen = f"127.0.0.1:{free_port()}"
    proc = await start_demo(listen, stdout=asyncio.subprocess.DEVNULL)
    try:

        async def all_checked() -> bool:
            try:
                async with aiohttp.ClientSession() as client, client.get(f"http://{listen}/api/status") as resp:
                    checks = (await resp.json())["checks"]
            except aiohttp.ClientError:
                return False
            return {c["site"]: c["status"] for c in checks} == EXPECTED

        await wait_for(all_checked, timeout=30, what="every demo site checked")
        yield f"http://{listen}"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=15)
        assert proc.returncode == 0, err.decode()


async def test_demo_status_page_in_chromium(demo: str, tmp_path: Path) -> None:
    """Chromium renders the board: each demo site with its state and finding; a screenshot is kept."""
    browser = chromium()
    dom_text = await run_browser([browser, *browser_args(tmp_path / "profile"), "--dump-dom", f"{demo}/"])
    dom = Dom(dom_text.decode())
    cards = {c.attrs["data-site"]: c for c in dom.find("data-site")}
    assert {name: card.attrs["data-status"] for name, card in cards.items()} == EXPECTED
    assert "HTTP 500" in dom.text(cards["demo-error"])
    assert "Fatal error" in dom.text(cards["demo-fatal"])
    assert "HTTP 200" in dom.text(cards["demo-healthy"])
    assert [e.attrs["data-status"] for e in dom.find("data-check")] == ["critical", "critical", "ok", "ok"]
    assert "sitewatch status" in dom_text.decode()

    shot = tmp_path / "status-page.png"
    await run_browser([browser, *browser_args(tmp_path / "profile-shot"), f"--screenshot={shot}", f"{demo}/"])
    keep_screenshot(shot)


def keep_screenshot(shot: Path) -> None:
    """Check it is a real PNG of a rendered page and copy it where CI collects artifacts."""
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000  # a rendered page, not a blank one
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / shot.name)
