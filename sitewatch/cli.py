"""Command line: ``run``, ``check-config``, ``probe``, ``report``, ``tickets``, ``silence``, ``add-site``, ``demo``."""

from __future__ import annotations

import argparse
import asyncio
import collections
import importlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sitewatch import __version__
from sitewatch.agent import Agent
from sitewatch.cli_onboard import AddSite, add_site_command
from sitewatch.cli_table import render_table
from sitewatch.cli_tickets import tickets_command
from sitewatch.config import DEFAULT_LISTEN, CheckSpec, Config, ConfigError, load_config
from sitewatch.demo import DemoTarget, demo_config_path
from sitewatch.httpclient import ProbeResolver, make_session
from sitewatch.limits import AcceptFailures, raise_nofile
from sitewatch.logs import event, setup_logging
from sitewatch.probe import format_duration, parse_duration, worst
from sitewatch.registry import RegistryError
from sitewatch.report import FORMATS, report_command
from sitewatch.results import RunRecord
from sitewatch.scheduler import Scheduler
from sitewatch.store import Store

__all__ = ["main"]

DEFAULT_CONFIG = "/etc/sitewatch/config.yaml"
#: Exit code when the command could not run at all (Nagios' UNKNOWN).
EXIT_UNUSABLE = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sitewatch", description="Watch websites; export metrics; open tickets.")
    parser.add_argument("--version", action="version", version=f"sitewatch {__version__}")
    parser.add_argument("--log-format", choices=("text", "json"), default="text", help="log line format (stderr)")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the agent in the foreground")
    run.add_argument("-c", "--config", default=DEFAULT_CONFIG, help=f"config file (default {DEFAULT_CONFIG})")

    check = sub.add_parser("check-config", help="validate a config file and summarise it")
    check.add_argument("-c", "--config", default=DEFAULT_CONFIG)

    probe = sub.add_parser("probe", help="run checks once now and print a table (exit 0 ok, 1 warning, 2 failing)")
    probe.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    probe.add_argument("site", nargs="?", help="only this site")
    probe.add_argument("--check", help="only the check with this name")

    tickets = sub.add_parser("tickets", help="list, show, ack or close tickets of the local store")
    tickets.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    tickets.add_argument("action", choices=("list", "show", "ack", "close"), nargs="?", default="list")
    tickets.add_argument("number", nargs="?", type=int, help="ticket number (show, ack, close)")

    report = sub.add_parser("report", help="availability, incidents and SLA per site (maintenance excluded)")
    report.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    report.add_argument("--site", help="only this site")
    period = report.add_mutually_exclusive_group()
    period.add_argument("--month", help="a UTC calendar month, e.g. 2026-11 (the current one: so far)")
    period.add_argument("--since", help="the last N days or hours up to now, e.g. 30d (the default) or 12h")
    report.add_argument("--format", choices=FORMATS, default="table", help="table (default), csv, json or html")

    silence = sub.add_parser("silence", help="open no incidents for a site for a while (planned work)")
    silence.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    silence.add_argument("site")
    silence.add_argument("--for", dest="duration", required=True, help="how long, e.g. 2h or 30m")
    silence.add_argument("--reason", required=True, help="why (shown in logs and kept in the store)")

    add = sub.add_parser("add-site", help="probe a new site and write sites.d/<name>.yaml next to the config")
    add.add_argument("url", help="the site, e.g. https://shop.example.com/ (a bare host name means https)")
    add.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="main config; the file goes to its sites.d/")
    add.add_argument("--name", help="site name (default: the host without www.)")
    add.add_argument("--root", type=Path, help="the CMS install directory on this server (for the cms check)")
    add.add_argument("--backups", metavar="GLOB", help="backup files, e.g. '/var/backups/shop/*.tar.gz'")
    add.add_argument("--heartbeat", action="store_true", help="add a heartbeat check with a new random token")
    add.add_argument("--ca-file", help="the site's certificate comes from this internal CA (PEM)")
    add.add_argument("--dry-run", action="store_true", help="print the file instead of writing it")
    add.add_argument("--force", action="store_true", help="replace an existing sites.d/<name>.yaml")

    demo = sub.add_parser("demo", help="serve a small demo site on loopback and watch it")
    demo.add_argument("--listen", default=DEFAULT_LISTEN, help=f"agent address (default {DEFAULT_LISTEN})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sitewatch`` console script."""
    args = _parser().parse_args(argv)
    log = setup_logging(args.log_format, args.log_level)
    try:
        if args.command == "check-config":
            return _check_config(Path(args.config))
        if args.command == "probe":
            return _probe(Path(args.config), args.site, args.check, log)
        if args.command == "run":
            return _run(Path(args.config), log)
        if args.command == "tickets":
            return _tickets(Path(args.config), args.action, args.number)
        if args.command == "report":
            return _report(Path(args.config), args)
        if args.command == "silence":
            return _silence(Path(args.config), args.site, args.duration, args.reason)
        if args.command == "demo":
            return _demo(args.listen, log)
        if args.command == "add-site":
            return add_site_command(_add_site_args(args), log=log)
    except RegistryError as exc:
        print(f"sitewatch: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        return 130
    raise AssertionError(args.command)  # pragma: no cover - argparse enforces the choices


def _add_site_args(args: argparse.Namespace) -> AddSite:
    return AddSite(
        url=args.url,
        config=Path(args.config),
        name=args.name,
        root=args.root,
        backups=args.backups,
        heartbeat=args.heartbeat,
        ca_file=args.ca_file,
        dry_run=args.dry_run,
        force=args.force,
    )


def _load(path: Path) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(
            f"{path}: {count} error{'s' * (count != 1)}; fix them and run `sitewatch check-config -c {path}` again",
            file=sys.stderr,
        )
        return None


def _tickets(path: Path, action: str, number: int | None) -> int:
    config = _load(path)
    if config is None:
        return EXIT_UNUSABLE
    if action != "list" and number is None:
        print(f"sitewatch: `tickets {action}` needs a ticket number", file=sys.stderr)
        return EXIT_UNUSABLE
    return tickets_command(config.agent.state_dir / "sitewatch.db", action, number)


def _report(path: Path, args: argparse.Namespace) -> int:
    config = _load(path)
    if config is None:
        return EXIT_UNUSABLE
    return report_command(
        config, site=args.site, month_text=args.month, since=args.since, fmt=args.format, now=time.time()
    )


def _silence(path: Path, site: str, duration: str, reason: str) -> int:
    config = _load(path)
    if config is None:
        return EXIT_UNUSABLE
    if site not in {s.info.name for s in config.sites}:
        print(f"sitewatch: no site {site!r} in {path}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        print(f"sitewatch: --for: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    store = Store(config.agent.state_dir / "sitewatch.db")
    now = time.time()
    try:
        store.add_silence(site, now + seconds, reason, now)
    finally:
        store.close()
    print(f"{site}: no new incidents for {format_duration(seconds)} ({reason})")
    return 0


def _check_config(path: Path) -> int:
    config = _load(path)
    if config is None:
        return 1
    by_type = collections.Counter(c.type for c in config.checks)
    kinds = ", ".join(f"{t}: {n}" for t, n in sorted(by_type.items())) or "none"
    print(f"{path}: OK")
    print(f"  sites:  {len(config.sites)}")
    print(f"  checks: {len(config.checks)} ({kinds})")
    print(f"  listen: {config.agent.listen}, state in {config.agent.state_dir}")
    bridge = config.agent.alertmanager
    if bridge.enabled:
        auth = "bearer token" if bridge.token else "web_config basic auth"
        print(f"  alertmanager: POST /alertmanager ({auth})")
    return 0


def _probe(path: Path, site: str | None, check: str | None, log: logging.Logger) -> int:
    config = _load(path)
    if config is None:
        return EXIT_UNUSABLE
    specs = [c for c in config.checks if (site is None or c.site.name == site) and (check is None or c.name == check)]
    if not specs:
        what = " ".join(filter(None, [f"site {site!r}" if site else "", f"check {check!r}" if check else ""]))
        names = ", ".join(s.info.name for s in config.sites) or "none"
        print(f"sitewatch: no {what or 'checks'} in {path} (sites: {names})", file=sys.stderr)
        return EXIT_UNUSABLE
    records = asyncio.run(_probe_all(config, specs, log))
    rows = [
        [r.site, r.check, r.result.status.value.upper(), format_duration(r.duration), r.result.summary] for r in records
    ]
    width = shutil.get_terminal_size((160, 24)).columns if sys.stdout.isatty() else None
    used = max((len(r[0]) + len(r[1]) + 30 for r in rows), default=0)
    print(render_table(["SITE", "CHECK", "STATUS", "TIME", "SUMMARY"], rows, (width - used) if width else None))
    return worst(*(r.result.status for r in records)).exit_code


async def _probe_all(config: Config, specs: list[CheckSpec], log: logging.Logger) -> list[RunRecord]:
    resolver = ProbeResolver()
    session = make_session(resolver, user_agent=config.agent.user_agent)
    scheduler = Scheduler.for_one_shot(session=session, resolver=resolver, log=log)
    # run_once takes none of the scheduler's slots: the agent's concurrency limit is applied here.
    limit = asyncio.Semaphore(config.agent.concurrency)
    done = 0
    show = sys.stderr.isatty() and len(specs) > 1

    async def one(spec: CheckSpec) -> RunRecord:
        nonlocal done
        async with limit:
            record = await scheduler.run_once(spec)
        done += 1
        if show:
            print(f"\r{done}/{len(specs)} checks done", end="", file=sys.stderr, flush=True)
        return record

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(s)) for s in specs]
    finally:
        if show:
            print(file=sys.stderr)
        await session.close()
        await resolver.close()
    return [t.result() for t in tasks]


def loop_factory(log: logging.Logger) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when ``SITEWATCH_LOOP=uvloop`` asks for it (and it is installed), else None.

    asyncio's own loop is the default because it measured cheaper: in bench/fleet.py
    (1,000 probes/s, fresh connections, 10 % TLS) uvloop cost about 8 % more CPU per
    probe. The switch stays so that the comparison can be repeated on other machines.
    """
    if os.environ.get("SITEWATCH_LOOP", "asyncio") != "uvloop":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        event(log, logging.WARNING, "uvloop_missing", hint="pip install uvloop, or unset SITEWATCH_LOOP")
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _run(path: Path, log: logging.Logger) -> int:
    config = _load(path)
    if config is None:
        return EXIT_UNUSABLE
    with asyncio.Runner(loop_factory=loop_factory(log)) as runner:
        return runner.run(_serve(config, log))


async def _serve(config: Config, log: logging.Logger) -> int:
    # The whole process's descriptors and loop: only the real agent changes them (sitewatch.limits).
    raise_nofile(log)
    asyncio.get_running_loop().set_exception_handler(AcceptFailures(log))
    agent = Agent(config, log, freeze_gc=True)
    try:
        await agent.serve()
    except OSError as exc:
        event(log, logging.ERROR, "bind_failed", listen=config.agent.listen, error=exc.strerror or str(exc))
        print(
            f"sitewatch: cannot listen on {config.agent.listen} ({exc.strerror or exc}); "
            "set agent.listen to a free address",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    return 0


def _demo(listen: str, log: logging.Logger) -> int:
    return asyncio.run(_demo_async(listen, log))


async def _demo_async(listen: str, log: logging.Logger) -> int:
    target = DemoTarget()
    url = await target.start()
    state = Path(tempfile.mkdtemp(prefix="sitewatch-demo-"))
    os.environ.update(SITEWATCH_DEMO_URL=url, SITEWATCH_DEMO_STATE=str(state), SITEWATCH_DEMO_LISTEN=listen)
    try:
        config = load_config(demo_config_path())
        print(f'demo target:  {url}/ (healthy), /slow, /error (HTTP 500), /fatal ("Fatal error" in a 200)')
        print(f"metrics:      http://{listen}/metrics")
        print(f"status page:  http://{listen}/")
        print(f"status API:   http://{listen}/api/status, /api/incidents, /api/sites/demo-error/history")
        print("stop with Ctrl-C", flush=True)
        return await _serve(config, log)
    finally:
        await target.close()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover - `python -m sitewatch.cli`
    sys.exit(main())
