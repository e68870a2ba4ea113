"""A blocking file under a check's root (a FIFO; a hung NFS mount alike) never hangs a check or the agent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sitewatch.probe import FileWorkers, NotRegularFile, Status, StillRunning, read_regular
from tests.helpers import free_port, run_check, wait_for
from tests.test_cms_local import wordpress_classic

NO_SOURCES = {"wordpress_latest": None, "wordpress_insecure": None, "magento_latest": None}


def fifo_install(root: Path) -> Path:
    """A WordPress docroot whose ``wp-includes/version.php`` is a FIFO nobody ever writes to."""
    wordpress_classic(root, "6.4.2")
    version = root / "wp-includes" / "version.php"
    version.unlink()
    os.mkfifo(version)
    return root


@contextlib.contextmanager
def released(fifo: Path) -> Iterator[None]:
    """On exit, open ``fifo`` for writing once, so a reader stuck in ``open()`` returns (test cleanup)."""
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


async def test_fifo_version_file_returns_promptly_naming_it(tmp_path: Path) -> None:
    """A FIFO as version.php: the probe answers at once, an error naming the file; another site is unaffected."""
    bad = fifo_install(tmp_path / "bad")
    good = wordpress_classic(tmp_path / "good", "6.4.2")
    started = time.monotonic()
    with released(bad / "wp-includes" / "version.php"):
        records = await asyncio.gather(
            *(
                run_check("cms", {"root": str(root), "remote": False, "sources": NO_SOURCES}, timeout=2.0)
                for root in (bad, good)
            )
        )
    assert time.monotonic() - started < 1.5
    broken, healthy = (r.result for r in records)
    assert broken.status is Status.ERROR
    assert broken.summary == "cannot read the install: wp-includes/version.php (not a regular file but a FIFO)"
    assert (healthy.status, healthy.details["version"]) == (Status.OK, "6.4.2")


async def test_fifo_checksum_file_is_named_not_waited_on(tmp_path: Path) -> None:
    """The backup check verifying against a ``.sha256`` that is a FIFO says so at once."""
    archive = tmp_path / "shop-2026-12-07.tar.gz"
    archive.write_bytes(b"\x1f\x8b" + b"x" * 2000)
    sidecar = tmp_path / "shop-2026-12-07.tar.gz.sha256"
    os.mkfifo(sidecar)
    with released(sidecar):
        record = await run_check("backup", {"path": str(tmp_path / "*.tar.gz"), "verify": "sha256"}, timeout=2.0)
    assert record.duration < 1.5
    assert f"cannot read {sidecar}: not a regular file but a FIFO" in record.result.summary


def test_read_regular_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    """A FIFO raises NotRegularFile without blocking; a directory or nothing is absent; a symlink is followed."""
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(NotRegularFile, match="a FIFO"):
        read_regular(tmp_path / "fifo", 10)
    (tmp_path / "dir").mkdir()
    assert read_regular(tmp_path / "dir", 10) is None
    assert read_regular(tmp_path / "missing", 10) is None
    (tmp_path / "real").write_bytes(b"0123456789abc")
    (tmp_path / "link").symlink_to("real")
    assert read_regular(tmp_path / "link", 10) == b"0123456789"
    (tmp_path / "to-fifo").symlink_to("fifo")
    with pytest.raises(NotRegularFile):
        read_regular(tmp_path / "to-fifo", 10)


async def test_file_workers_refuse_new_work_while_a_thread_is_stuck(tmp_path: Path) -> None:
    """A thread really stuck in open() of a FIFO: its key is refused at once, other keys run, threads stay daemon."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    workers = FileWorkers("test-files", size=2)

    def stuck() -> bytes:
        with open(fifo, "rb") as handle:  # the blocking open() is the point
            return handle.read()

    with released(fifo):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await workers.run("/srv/nfs", stuck)
        with pytest.raises(StillRunning) as refused:
            await workers.run("/srv/nfs", stuck)
        assert refused.value.key == "/srv/nfs"
        assert await workers.run("/var/www/other", lambda: 42) == 42
        threads = [t for t in threading.enumerate() if t.name.startswith("test-files-")]
        assert 1 <= len(threads) <= 2
        assert all(t.daemon for t in threads)
    await wait_for(lambda: "/srv/nfs" not in workers.busy(), what="the stuck read to return once released")
    assert await workers.run("/srv/nfs", lambda: "again") == "again"


async def test_file_workers_run_live_callers_of_one_key_side_by_side() -> None:
    """Two sites sharing a docroot (or none) read at once: only abandoned work makes a key refuse."""
    workers = FileWorkers("test-shared", size=2)
    both = threading.Barrier(2, timeout=5)

    def meet() -> str:
        both.wait()  # returns only when the two calls run at the same time, in two threads
        return "read"

    assert await asyncio.gather(workers.run("/var/www", meet), workers.run("/var/www", meet)) == ["read", "read"]
    assert workers.busy() == {}


STUCK_PLUGIN = '''
"""A third-party check doing blocking file work in the loop's shared executor (the old cms way)."""
import asyncio

from sitewatch.probe import Check, CheckConfig, Result, Status


class StuckConfig(CheckConfig):
    fifo: str


class StuckCheck(Check[StuckConfig]):
    type = "stuck"
    Config = StuckConfig

    async def run(self, ctx):
        def read():
            with open(self.config.fifo, "rb") as handle:
                return handle.read()

        await asyncio.to_thread(read)
        return Result(Status.OK, "read")
'''


def stuck_plugin(site_dir: Path) -> Path:
    """A check plugin installed the way pip installs one: a module and its dist-info with an entry point."""
    site_dir.mkdir()
    (site_dir / "stuck_check.py").write_text(STUCK_PLUGIN, encoding="utf-8")
    info = site_dir / "stuck_check-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: stuck-check\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[sitewatch.checks]\nstuck = stuck_check:StuckCheck\n", encoding="utf-8")
    return site_dir


async def statuses(listen: str) -> dict[str, str]:
    """``check -> status`` from the agent's /api/status (empty while it is not up)."""
    try:
        async with aiohttp.ClientSession() as client, client.get(f"http://{listen}/api/status") as resp:
            doc: Any = await resp.json()
    except aiohttp.ClientError:
        return {}
    return {c["check"]: c["status"] for c in doc["checks"]}


@pytest.mark.slow
async def test_agent_with_fifo_targets_stops_on_sigterm_within_its_grace(tmp_path: Path) -> None:
    """`sitewatch run` with a FIFO docroot and a thread stuck on a FIFO stops on SIGTERM within the grace period."""
    root = fifo_install(tmp_path / "www")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    listen = f"127.0.0.1:{free_port()}"
    config = tmp_path / "config.yaml"
    config.write_text(
        textwrap.dedent(f"""\
        agent: {{listen: "{listen}", state_dir: {tmp_path / "state"}}}
        defaults: {{interval: 1s, timeout: 1s}}
        sites:
          - name: shop
            url: http://127.0.0.1:9/
            checks:
              - type: cms
                root: {root}
                remote: false
                sources: {{wordpress_latest: null, wordpress_insecure: null}}
              - {{type: stuck, fifo: {fifo}}}
        """),
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stuck_plugin(tmp_path / "plugins")), *sys.path])}
    agent = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sitewatch.cli", "run", "-c", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    with released(fifo):
        try:
            await wait_for(lambda: _ran(statuses(listen)), timeout=20, what="both checks to fail")
            assert (await statuses(listen))["cms"] == "error"
            agent.send_signal(signal.SIGTERM)
            started = time.monotonic()
            await asyncio.wait_for(agent.wait(), timeout=10)
            took = time.monotonic() - started
        finally:
            if agent.returncode is None:
                agent.kill()
                await agent.wait()
    assert agent.stderr is not None
    log = (await agent.stderr.read()).decode()
    assert agent.returncode == 0, log
    assert took < 1.0 + 2.0 + 1.5  # grace (longest check timeout) + executor grace + start-up slack
    assert "exit_with_stuck_threads" in log


async def _ran(pending: Any) -> bool:
    found = await pending
    return found.get("cms") == "error" and found.get("stuck") == "error"
