"""Soak: a whole agent with churn — reloads, flapping targets, a desk that goes down — sampled for leaks.

Not a CI test. Run from the repository root (loopback only, nothing leaves the machine):

    .venv/bin/python -m bench.soak --minutes 60                 # the hour-long soak
    .venv/bin/python -m bench.soak --minutes 5 --sample 15      # a few minutes of 500 healthy + 50 hostile

The agent runs in this process (so its tasks can be counted) with ``--healthy`` http checks on a
good server and ``--hostile`` on the misbehaving one from ``tests/reliability``. Every ``--reload``
seconds the config file is rewritten (a third of the healthy checks change) and reloaded as SIGHUP
would; every ``--flap`` seconds a tenth of the healthy sites flip between 200 and 503, which opens
and resolves incidents; the webhook desk is down for a third of each ``--outage`` period. One row
per ``--sample`` seconds (RSS, fds, tasks, runs, the worst healthy start lag, open incidents,
queued deliveries) goes to ``bench/results/<date>-soak.md`` with a verdict: flat lines or not.
``--large`` sites fetch a 2 MiB page every 2 s, and the collector is frozen as ``sitewatch run`` freezes
it: a page kept alive by a reference cycle shows up as RSS climbing by megabytes per sample.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from aiohttp import web

from sitewatch.agent import Agent
from sitewatch.config.loader import load_config
from tests.helpers import serve
from tests.reliability.hostile_server import HangingResolver, HostileServer

HOSTILE = ["/slow-headers", "/drip", "/endless", "/endless-chunked", "/gzip-bomb", "/huge-headers", "/garbage"]
HOSTILE += ["/reset", "/loop/a", "/chain/0?hops=50"]
#: The large-page point: a 2 MiB catalogue page, as a big shop's category page is.
LARGE_PAGE = "".join(f"<li>item {i:07d} in stock</li>\n" for i in range(80_000))[: 2 * 1024 * 1024]


def rss_kib() -> int:
    """Resident memory of this process in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class World:
    """The targets' and the desk's state, flipped by the churn loop."""

    down: set[int] = field(default_factory=set)
    desk_down: bool = False
    hooks: int = 0
    config_path: Path = Path()
    good: str = ""  # http://127.0.0.1:port of the good server
    bad_port: int = 0
    hook: str = ""

    def site_app(self) -> web.Application:
        async def page(request: web.Request) -> web.Response:
            i = int(request.query.get("i", "-1"))
            return web.Response(text="down", status=503) if i in self.down else web.Response(text="fine")

        app = web.Application()
        app.router.add_get("/", page)
        app.router.add_get("/v2", page)

        async def large(_: web.Request) -> web.Response:
            response = web.Response(text=LARGE_PAGE, content_type="text/html")
            response.enable_compression()  # gzip'd and chunked, as a real shop sends it
            response.enable_chunked_encoding()
            return response

        app.router.add_get("/large", large)
        return app

    def desk_app(self) -> web.Application:
        async def hook(request: web.Request) -> web.Response:
            await request.read()
            self.hooks += 1
            return web.Response(status=503) if self.desk_down else web.json_response({"ok": True})

        app = web.Application()
        app.router.add_post("/hook", hook)
        return app


def write_config(world: World, args: argparse.Namespace, generation: int) -> None:
    """The soak's config; ``generation`` moves a third of the healthy checks to another path."""
    path, good, bad_port, hook = world.config_path, world.good, world.bad_port, world.hook
    lines = [
        f'agent: {{listen: "127.0.0.1:{free_port() if generation == 0 else args.listen_port}", '
        f"state_dir: {path.parent / 'state'}, concurrency: 512, per_host_concurrency: 8}}",
        f"defaults: {{interval: {args.interval}s, timeout: 2s, fail_after: 2, recover_after: 2}}",
        "tickets:",
        "  sinks:",
        "    - type: local",
        f'    - {{type: webhook, name: desk, url: "{hook}/hook"}}',
        "sites:",
    ]
    port = good.rsplit(":", 1)[1]
    for i in range(args.healthy):
        page = "v2" if generation % 2 and i % 3 == 0 else ""
        lines.append(f"  - {{name: ok{i}, url: 'http://h{i}.test:{port}/{page}?i={i}'}}")
    for k in range(args.large):
        i = args.healthy + args.hostile + k
        url = f"http://h{i}.test:{port}/large"
        lines.append(f"  - {{name: large{k}, url: '{url}', interval: 2s, checks: [{{type: http, max_body: 4MiB}}]}}")
    for j in range(args.hostile):
        i = args.healthy + j
        url = f"http://h{i}.test:{bad_port}{HOSTILE[j % len(HOSTILE)]}"
        lines.append(f"  - {{name: bad{j}, url: '{url}', interval: 2s, checks: [{{type: http, max_body: 256KiB}}]}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class WorstLag:
    """Wraps the lag histogram's ``observe`` to keep the worst exact lag of healthy checks per sample."""

    def __init__(self, observe: Callable[[float], None]) -> None:
        self._observe = observe
        self.worst = 0.0
        self.all_time = 0.0

    def __call__(self, value: float) -> None:
        self._observe(value)
        task = asyncio.current_task()
        # The scheduler observes inside the run's task, named "check <site>/<check>".
        if task is not None and task.get_name().startswith("check ok"):
            self.worst = max(self.worst, value)
            self.all_time = max(self.all_time, value)


def hostile_child(conn: Connection) -> None:
    """Serve the hostile targets from another process, so this one's fds and tasks are the agent's.

    Many hostile handlers never end on their own (that is their behaviour); in-process they would
    show up in the counts as a leak that is not the agent's.
    """

    # Writing to a client that gave up is this server's normal day; asyncio would warn on each.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)

    async def serve_forever() -> None:
        async with HostileServer() as bad:
            conn.send(bad.port)
            await asyncio.Event().wait()

    asyncio.run(serve_forever())


async def soak(args: argparse.Namespace) -> Path:
    """Run the soak; returns the Markdown report written."""
    world = World()
    log = logging.getLogger("soak")
    started_wall = dt.datetime.now(dt.UTC)
    rows: list[list[object]] = []
    parent, child = multiprocessing.get_context("spawn").Pipe()
    hostile = multiprocessing.get_context("spawn").Process(target=hostile_child, args=(child,), daemon=True)
    hostile.start()
    try:
        bad_port = int(await asyncio.to_thread(parent.recv))
        async with serve(world.site_app()) as good, serve(world.desk_app()) as hook:
            world.good, world.bad_port, world.hook = good, bad_port, hook
            rows, worst = await run_agent(world, args, log)
    finally:
        hostile.terminate()
        hostile.join()
    return report(args, rows, started_wall, worst)


async def run_agent(world: World, args: argparse.Namespace, log: logging.Logger) -> tuple[list[list[object]], float]:
    """Start the agent on a fresh config, churn until the end, close it; the rows and the worst lag."""
    with tempfile.TemporaryDirectory(prefix="sitewatch-soak-") as tmp:
        world.config_path = Path(tmp) / "config.yaml"
        write_config(world, args, 0)
        config = load_config(world.config_path)
        args.listen_port = config.agent.host_port[1]
        hosts = {f"h{i}.test": ["127.0.0.1"] for i in range(args.healthy + args.hostile + args.large)}
        agent = Agent(config, log, resolver=HangingResolver(hosts), freeze_gc=True)  # as `sitewatch run`
        lag = WorstLag(agent.book.lag.observe)
        agent.book.lag.observe = lag  # type: ignore[method-assign]
        await agent.start()
        try:
            rows = await churn(agent, world, args, lag)
        finally:
            await agent.close()
    return rows, lag.all_time


async def churn(agent: Agent, world: World, args: argparse.Namespace, lag: WorstLag) -> list[list[object]]:
    """Drive reloads, flaps and desk outages; sample every ``args.sample`` seconds."""
    rows: list[list[object]] = []
    start = time.monotonic()
    end = start + args.minutes * 60
    next_reload, next_flap, next_sample = start + args.reload, start + args.flap, start
    generation, flap = 0, 0
    runs_before = 0
    print("elapsed_s\trss_kib\tfds\ttasks\truns\tworst_lag_s\topen_incidents\tqueued", flush=True)
    while True:
        now = time.monotonic()
        if now >= next_reload:
            generation += 1
            write_config(world, args, generation)
            if not agent.reload(world.config_path):
                raise SystemExit("reload failed: the soak's own config is wrong")
            next_reload += args.reload
        if now >= next_flap:
            flap += 1
            tenth = max(1, args.healthy // 10)
            world.down = set(range((flap % 10) * tenth, (flap % 10) * tenth + tenth)) if flap % 2 else set()
            next_flap += args.flap
        # The desk is down for the first third of every outage period.
        world.desk_down = (now - start) % args.outage < args.outage / 3
        if now >= next_sample:
            stats = agent.book.ticket_stats() if agent.book.ticket_stats else None
            row: list[object] = [
                round(now - start),
                rss_kib(),
                len(os.listdir("/proc/self/fd")),
                len(asyncio.all_tasks()),
                agent.book.lag.count - runs_before,
                round(lag.worst, 4),
                stats.open_incidents if stats else "",
                stats.outbox_pending if stats else "",
            ]
            runs_before = agent.book.lag.count
            lag.worst = 0.0
            rows.append(row)
            print(*row, sep="\t", flush=True)
            next_sample += args.sample
        if now >= end:
            return rows
        await asyncio.sleep(min(next_sample, next_reload, next_flap, end) - time.monotonic())


def report(args: argparse.Namespace, rows: list[list[object]], started: dt.datetime, worst_lag: float) -> Path:
    """Write the Markdown table and the verdict; return its path."""
    out = Path(__file__).parent / "results" / f"{started:%Y-%m-%d-%H%M}-soak.md"
    out.parent.mkdir(exist_ok=True)
    steady = rows[1:] or rows  # the first sample is before the first full round
    rss = [int(r[1]) for r in steady]  # type: ignore[call-overload]
    fds = [int(r[2]) for r in steady]  # type: ignore[call-overload]
    tasks = [int(r[3]) for r in steady]  # type: ignore[call-overload]
    header = "| elapsed s | RSS KiB | fds | tasks | runs | worst healthy lag s | open incidents | queued |"
    lines = [
        f"# Soak {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"`python -m bench.soak --minutes {args.minutes:g} --healthy {args.healthy} --hostile {args.hostile} "
        f"--large {args.large} --interval {args.interval:g} --reload {args.reload:g} --flap {args.flap:g} "
        f"--outage {args.outage:g} --sample {args.sample:g}` on {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}, "
        f"load average at the end {os.getloadavg()[0]:.2f}.",
        "",
        "Churn: config rewritten and reloaded every `--reload` s; a tenth of the healthy sites flip to 503"
        " every `--flap` s (incidents open and resolve); the webhook desk answers 503 for a third of every"
        " `--outage` s.",
        "",
        header,
        "|---|---|---|---|---|---|---|---|",
        *("| " + " | ".join(map(str, r)) + " |" for r in rows),
        "",
        "| verdict | first steady | last | max |",
        "|---|---|---|---|",
        f"| RSS KiB | {rss[0]} | {rss[-1]} | {max(rss)} |",
        f"| fds | {fds[0]} | {fds[-1]} | {max(fds)} |",
        f"| tasks | {tasks[0]} | {tasks[-1]} | {max(tasks)} |",
        f"| worst healthy start lag, whole run | | | {worst_lag:.3f} s |",
        "",
    ]
    out.write_text("\n".join(lines), encoding="utf-8")
    return out


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="total run time (the bound)")
    parser.add_argument("--healthy", type=int, default=500)
    parser.add_argument("--hostile", type=int, default=50)
    parser.add_argument("--large", type=int, default=2, help="sites fetching a 2 MiB page every 2 s")
    parser.add_argument("--interval", type=float, default=5.0, help="healthy checks' interval, seconds")
    parser.add_argument("--reload", type=float, default=60.0, help="seconds between config reloads")
    parser.add_argument("--flap", type=float, default=20.0, help="seconds between target flips")
    parser.add_argument("--outage", type=float, default=180.0, help="desk outage period, seconds")
    parser.add_argument("--sample", type=float, default=60.0, help="seconds between samples")
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    print(f"wrote {asyncio.run(soak(parser.parse_args()))}")


if __name__ == "__main__":
    main()
