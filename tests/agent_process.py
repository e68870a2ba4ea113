"""``sitewatch run`` in a subprocess, its stderr collected line by line, optionally under a descriptor limit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.helpers import wait_for

__all__ = ["AgentProcess", "agent_process", "get"]


@dataclass
class AgentProcess:
    """The running agent: its address and every stderr line so far."""

    proc: asyncio.subprocess.Process
    listen: str
    lines: list[str] = field(default_factory=list)

    def events(self, name: str) -> list[str]:
        """Lines of event ``name`` (the word after the timestamp and level)."""
        return [line for line in self.lines if len(line.split(" ", 3)) > 2 and line.split(" ", 3)[2] == name]


async def get(listen: str, path: str, timeout: float = 5.0) -> tuple[int, str]:  # noqa: ASYNC109
    """One GET on a fresh connection: (status, body); (0, error) when it could not be made."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as client,
            client.get(f"http://{listen}{path}") as resp,
        ):
            return resp.status, await resp.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 0, repr(exc)


def _limit(nofile: tuple[int, int] | None) -> Callable[[], None] | None:
    if nofile is None:
        return None

    def apply() -> None:  # in the child, before exec: what systemd's LimitNOFILE= does
        resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

    return apply


@contextlib.asynccontextmanager
async def agent_process(
    config: Path, listen: str, *, nofile: tuple[int, int] | None = None, log_format: str = "text"
) -> AsyncIterator[AgentProcess]:
    """Start the agent on ``config`` (listening on ``listen``), wait until it answers, stop it with SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sitewatch.cli",
        "--log-format",
        log_format,
        "run",
        "-c",
        str(config),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"},  # plain event lines
        preexec_fn=_limit(nofile),
    )
    running = AgentProcess(proc, listen)

    async def collect() -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            running.lines.append(line.decode("utf-8", "replace").rstrip("\n"))

    reader = asyncio.create_task(collect())
    try:
        await wait_for(lambda: _up(running), timeout=20, what="the agent to answer /healthz")
        yield running
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await reader


async def _up(running: AgentProcess) -> bool:
    if running.proc.returncode is not None:
        raise AssertionError("the agent exited:\n" + "\n".join(running.lines[-20:]))
    return (await get(running.listen, "/healthz", timeout=1))[0] != 0  # any answer: it may want credentials
