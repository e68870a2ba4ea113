"""Soak: healthy and hostile http checks on the real scheduler, with churn; RSS, fds and tasks sampled to CSV.

Not a CI test. Run from the repository root (loopback only, nothing leaves the machine):

    .venv/bin/python -m bench.soak --minutes 60 --healthy 500 --hostile 50

Every ``--reload`` seconds the check set is re-applied with a third of the healthy checks flipped
between a good page and a hostile one (targets flapping, as a reload would change them). One row per
``--sample`` seconds goes to ``bench/results/soak-<unix time>.csv``; flat rss/fds/tasks columns mean no leak.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import os
import random
import time
from pathlib import Path

from aiohttp import web

from sitewatch.httpclient import make_session
from sitewatch.probe import SystemClock
from sitewatch.results import Histogram, RunRecord
from sitewatch.scheduler import Scheduler
from tests.helpers import make_spec, serve
from tests.reliability.hostile_server import HangingResolver, HostileServer

HOSTILE = ["/slow-headers", "/drip", "/endless", "/endless-chunked", "/gzip-bomb", "/huge-headers", "/garbage"]
HOSTILE += ["/reset", "/loop/a", "/chain/0?hops=50"]


def rss_kib() -> int:
    """Resident memory in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


async def soak(args: argparse.Namespace) -> Path:
    """Run the soak; returns the CSV written."""
    out = Path(__file__).parent / "results" / f"soak-{int(time.time())}.csv"
    out.parent.mkdir(exist_ok=True)
    records: list[RunRecord] = []
    lag = Histogram()
    app = web.Application()
    app.router.add_get("/", lambda _: web.Response(text="fine"))  # type: ignore[arg-type,return-value]
    async with HostileServer() as bad, serve(app) as good:
        port = good.rsplit(":", 1)[1]
        hosts = {f"h{i}.test": ["127.0.0.1"] for i in range(args.healthy + args.hostile)}
        resolver = HangingResolver(hosts)
        session = make_session(resolver, user_agent="sitewatch-soak")
        scheduler = Scheduler(
            session=session, resolver=resolver, clock=SystemClock(), concurrency=512, per_host=4,
            on_result=records.append, lag=lag, log=logging.getLogger("soak"), rng=random.Random(1),
        )  # fmt: skip

        def specs(flip: bool) -> list[object]:
            out = []
            for i in range(args.healthy):
                hostile = flip and i % 3 == 0
                url = f"http://h{i}.test:{bad.port}/drip" if hostile else f"http://h{i}.test:{port}/"
                out.append(make_spec("http", url=url, site=f"ok{i}", interval=args.interval, timeout=2))
            for j in range(args.hostile):
                i = args.healthy + j
                url = f"http://h{i}.test:{bad.port}{HOSTILE[j % len(HOSTILE)]}"
                out.append(make_spec("http", {"max_body": "256KiB"}, url=url, site=f"bad{j}", interval=1, timeout=2))
            return out

        loop_task = asyncio.create_task(scheduler.run())
        end = time.monotonic() + args.minutes * 60
        next_reload, flip = time.monotonic(), False
        with out.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["elapsed_s", "rss_kib", "fds", "tasks", "runs", "lag_p99_le", "in_flight"])
            start = time.monotonic()
            while time.monotonic() < end:
                if time.monotonic() >= next_reload:
                    scheduler.apply(specs(flip))  # type: ignore[arg-type]
                    flip, next_reload = not flip, next_reload + args.reload
                row = [round(time.monotonic() - start), rss_kib(), len(os.listdir("/proc/self/fd"))]
                row += [len(asyncio.all_tasks()), len(records), lag.quantile(0.99), scheduler.in_flight]
                writer.writerow(row)
                fh.flush()
                print(*row, sep="\t", flush=True)
                records.clear()
                await asyncio.sleep(args.sample)
        await scheduler.stop(grace=2.0)
        await loop_task
        await session.close()
    return out


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="total run time (the bound)")
    parser.add_argument("--healthy", type=int, default=500)
    parser.add_argument("--hostile", type=int, default=50)
    parser.add_argument("--interval", type=float, default=5.0, help="healthy checks' interval, seconds")
    parser.add_argument("--reload", type=float, default=60.0, help="seconds between churn reloads")
    parser.add_argument("--sample", type=float, default=60.0, help="seconds between samples")
    print(f"wrote {asyncio.run(soak(parser.parse_args()))}")


if __name__ == "__main__":
    main()
