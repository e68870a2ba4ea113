"""Command line: ``run``, ``check-config``, ``probe``, ``report``, ``tickets``, ``silence``, ``add-site``, ``rules``,
``demo``."""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from sitewatch import __version__
from sitewatch.agent import Agent
from sitewatch.cli.add_site import AddSite, add_site_command
from sitewatch.cli.client_summary import client_lines
from sitewatch.cli.demo import DemoTarget, demo_config_path
from sitewatch.cli.fleet import print_split
from sitewatch.cli.probe import not_run, probe_all
from sitewatch.cli.probe_table import probe_table
from sitewatch.cli.report import report_command
from sitewatch.cli.rules import rules_command
from sitewatch.cli.silence import silence_command
from sitewatch.cli.tickets import tickets_command
from sitewatch.config.agent import DEFAULT_LISTEN
from sitewatch.config.loader import ConfigError, load_config
from sitewatch.config.registry import RegistryError
from sitewatch.config.shard import parse_shard, sharded
from sitewatch.config.sourcemap import SecretMode
from sitewatch.config.specs import Config
from sitewatch.limits import AcceptFailures, raise_nofile
from sitewatch.logs import event, setup_logging
from sitewatch.probe import worst
from sitewatch.reports.formats import FORMATS
from sitewatch.runtime import loop_factory

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
    run.add_argument("--shard", metavar="I/N", help="probe only shard I (0 … N-1) of N (overrides agent.shard)")
    run.add_argument(
        "--strict", action="store_true", help="refuse to start when an included file is broken (default: skip it)"
    )

    check = sub.add_parser("check-config", help="validate a config file and summarise it")
    check.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    check.add_argument(
        "--offline", action="store_true", help="check the structure only: look up no ${VAR} and no ${file:…}"
    )
    check.add_argument("--shard", metavar="N", nargs="?", const="", help="print which sites each of N shards probes")

    probe = sub.add_parser("probe", help="run checks once now and print a table (exit 0 ok, 1 warning, 2 failing)")
    probe.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    probe.add_argument("site", nargs="?", help="only this site")
    probe.add_argument("--check", help="only the check with this name")
    probe.add_argument("--failing", action="store_true", help="show only checks that are not ok")
    probe.add_argument("--wide", action="store_true", help="one line per check (the summary is not wrapped)")

    tickets = sub.add_parser("tickets", help="list, show, ack or close tickets of the local store")
    tickets.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    tickets.add_argument(
        "action", choices=("list", "show", "ack", "wait", "resume", "close"), nargs="?", default="list"
    )
    tickets.add_argument("number", nargs="?", type=int, help="ticket number (show, ack, wait, resume, close)")
    tickets.add_argument("--by", help="who acts (ack, wait, resume; default: the login name)")
    tickets.add_argument("--reason", help="what the team waits for (wait: the SLA clock stops until resume)")

    report = sub.add_parser("report", help="availability, incidents and SLA per site (maintenance excluded)")
    report.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    report.add_argument("--site", help="only this site")
    period = report.add_mutually_exclusive_group()
    period.add_argument("--month", help="a UTC calendar month, e.g. 2026-11 (the current one: so far)")
    period.add_argument("--since", help="the last N days or hours up to now, e.g. 30d (the default) or 12h")
    report.add_argument("--format", choices=FORMATS, default="table", help="table (default), csv, json or html")
    report.add_argument("--tag", help="only sites carrying this tag")
    whom = report.add_mutually_exclusive_group()
    whom.add_argument("--client", help="only this client's sites, in its language and time zone (--month: its month)")
    whom.add_argument("--all-clients", action="store_true", help="one file per client into --out DIR")
    report.add_argument("--out", type=Path, metavar="DIR", help="where --all-clients writes <client>-<month>.<format>")

    silence = sub.add_parser(
        "silence", help="SITE --for 2h --reason R: no new incidents for a while; `list`; `lift ID|SITE`"
    )
    silence.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    silence.add_argument("what", metavar="SITE|list|lift|add", help="a site to silence, `list`, or `lift`")
    silence.add_argument("target", nargs="?", help="lift: a silence id or a site; add: the site")
    silence.add_argument("--for", dest="duration", help="how long, e.g. 2h or 30m")
    silence.add_argument("--reason", help="why (shown on the status page and kept in the store)")
    silence.add_argument("--by", help="who (default: the login name)")

    add = sub.add_parser("add-site", help="probe a new site and write sites.d/<name>.yaml next to the config")
    add.add_argument("url", help="the site, e.g. https://shop.example.com/ (a bare host name means https)")
    add.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="main config; the file goes to its sites.d/")
    add.add_argument("--name", help="site name (default: the host without www.)")
    add.add_argument("--client", help="the configured client the site belongs to (default: the default client)")
    add.add_argument("--root", type=Path, help="the CMS install directory on this server (for the cms check)")
    add.add_argument("--backups", metavar="GLOB", help="backup files, e.g. '/var/backups/shop/*.tar.gz'")
    add.add_argument("--heartbeat", action="store_true", help="add a heartbeat check with a new random token")
    add.add_argument("--ca-file", help="the site's certificate comes from this internal CA (PEM)")
    add.add_argument("--dry-run", action="store_true", help="print the file instead of writing it")
    add.add_argument("--force", action="store_true", help="replace an existing sites.d/<name>.yaml")
    add.add_argument(
        "--depends-on",
        metavar="HOST",
        help="a `host: true` site this one runs on: its outage opens one ticket, not one each",
    )

    rules = sub.add_parser("rules", help="Prometheus rules: alert only when K agents see a check failing")
    rules.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    rules.add_argument("--quorum", type=int, required=True, metavar="K", help="failing locations that make an alert")
    rules.add_argument("--agents", type=int, metavar="N", help="agents expected per check (warns when one is missing)")
    rules.add_argument("--for", dest="hold", default="2m", help="how long the quorum must hold (default 2m)")
    rules.add_argument("-o", "--output", type=Path, help="rules file to write (default: stdout)")

    demo = sub.add_parser("demo", help="serve a small demo site on loopback and watch it")
    demo.add_argument("--listen", default=DEFAULT_LISTEN, help=f"agent address (default {DEFAULT_LISTEN})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sitewatch`` console script."""
    args = _parser().parse_args(argv)
    log = setup_logging(args.log_format, args.log_level)
    try:
        if args.command == "check-config":
            return _check_config(Path(args.config), args.shard, offline=args.offline)
        if args.command == "probe":
            return _probe(Path(args.config), args, log)
        if args.command == "run":
            return _run(Path(args.config), log, args.shard, strict=args.strict)
        if args.command == "tickets":
            return _tickets(Path(args.config), args.action, args.number, args.by, args.reason)
        if args.command == "report":
            return _report(Path(args.config), args)
        if args.command == "silence":
            return _silence(Path(args.config), args)
        if args.command == "rules":
            config = _load(Path(args.config))
            return (
                EXIT_UNUSABLE
                if config is None
                else rules_command(config, args.quorum, args.agents, args.hold, args.output)
            )
        if args.command == "demo":
            return _demo(args.listen, log)
        if args.command == "add-site":
            return add_site_command(_add_site_args(args), log=log)
    except RegistryError as exc:
        print(f"sitewatch: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `sitewatch tickets | head`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush cannot raise again, and exit as `head` expects.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
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
        client=args.client,
        depends_on=args.depends_on,
    )


def _load(path: Path, secrets: SecretMode = "resolve", *, lenient: bool = False) -> Config | None:
    """The config, or None with every problem printed; ``secrets`` as :func:`load_config` takes it.

    ``lenient``: a broken included file is skipped (its problems printed as warnings), not fatal.
    """
    try:
        config = load_config(path, secrets=secrets, skip_broken_includes=lenient)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(
            f"{path}: {count} error{'s' * (count != 1)}; fix them and run `sitewatch check-config -c {path}` again",
            file=sys.stderr,
        )
        return None
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return config


def _tickets(path: Path, action: str, number: int | None, by: str | None, reason: str | None) -> int:
    config = _load(path, "defer")  # the store only: no secret is needed
    if config is None:
        return EXIT_UNUSABLE
    if action != "list" and number is None:
        print(f"sitewatch: `tickets {action}` needs a ticket number", file=sys.stderr)
        return EXIT_UNUSABLE
    if action == "wait" and not (reason or "").strip():
        print("sitewatch: `tickets wait` needs --reason (what the team waits for from the client)", file=sys.stderr)
        return EXIT_UNUSABLE
    return tickets_command(config.agent.state_dir / "sitewatch.db", action, number, by, reason)


def _report(path: Path, args: argparse.Namespace) -> int:
    config = _load(path, "defer")
    if config is None:
        return EXIT_UNUSABLE
    if args.all_clients != (args.out is not None):
        print("sitewatch: --all-clients and --out DIR go together", file=sys.stderr)
        return EXIT_UNUSABLE
    return report_command(
        config,
        site=args.site,
        month_text=args.month,
        since=args.since,
        fmt=args.format,
        now=time.time(),
        client=args.client,
        tag=args.tag,
        all_clients=args.out,
    )


def _silence(path: Path, args: argparse.Namespace) -> int:
    config = _load(path, "defer")
    if config is None:
        return EXIT_UNUSABLE
    sites = {s.info.name for s in config.sites}
    db = config.agent.state_dir / "sitewatch.db"
    return silence_command(db, sites, args.what, args.target, duration=args.duration, reason=args.reason, by=args.by)


def _check_config(path: Path, shard: str | None = None, *, offline: bool = False) -> int:
    config = _load(path, "offline" if offline else "resolve")
    if config is None:
        return 1
    if shard is not None:
        return print_split(config, shard)
    by_type = collections.Counter(c.type for c in config.checks)
    kinds = ", ".join(f"{t}: {n}" for t, n in sorted(by_type.items())) or "none"
    print(f"{path}: OK" + (" (structure only: secrets not looked up)" if offline else ""))
    print(f"  sites:  {len(config.sites)}")
    print(f"  checks: {len(config.checks)} ({kinds})")
    print(f"  listen: {config.agent.listen}, state in {config.agent.state_dir}")
    clients = client_lines(config)
    if clients:
        print(f"  clients: {len(clients)} (name: sites; sinks after routing; language, time zone, calendar)")
        print("\n".join(clients))
    bridge = config.agent.alertmanager
    if bridge.enabled:
        auth = "bearer token" if bridge.token else "web_config basic auth"
        print(f"  alertmanager: POST /alertmanager ({auth})")
    return 0


def _probe(path: Path, args: argparse.Namespace, log: logging.Logger) -> int:
    site, check = args.site, args.check
    config = _load(path, "defer")  # only the chosen checks' secrets matter
    if config is None:
        return EXIT_UNUSABLE
    chosen = [c for c in config.checks if (site is None or c.site.name == site) and (check is None or c.name == check)]
    if not chosen:
        what = " ".join(filter(None, [f"site {site!r}" if site else "", f"check {check!r}" if check else ""]))
        names = ", ".join(s.info.name for s in config.sites) or "none"
        print(f"sitewatch: no {what or 'checks'} in {path} (sites: {names})", file=sys.stderr)
        return EXIT_UNUSABLE
    specs = [c for c in chosen if c.key not in config.unresolved]
    records = asyncio.run(probe_all(config, specs, log)) if specs else []
    records += [not_run(c, config.unresolved[c.key]) for c in chosen if c.key in config.unresolved]
    print(probe_table(records, tty=sys.stdout.isatty(), wide=args.wide, failing=args.failing))
    return worst(*(r.result.status for r in records)).exit_code


#: After an orderly stop, how long the loop's shared executor gets to finish its threads.
EXECUTOR_GRACE = 2.0


def _run(path: Path, log: logging.Logger, shard_text: str | None = None, *, strict: bool = False) -> int:
    config = _load(path, lenient=not strict)
    if config is None:
        return EXIT_UNUSABLE
    for warning in config.warnings:
        event(log, logging.WARNING, "config_warning", problem=str(warning))
    if shard_text is not None:
        try:
            config = sharded(config, parse_shard(shard_text))
        except ValueError as exc:  # pydantic's ValidationError is one
            print(f"sitewatch: --shard: {str(exc).splitlines()[-1].strip()}", file=sys.stderr)
            return EXIT_UNUSABLE
    with asyncio.Runner(loop_factory=loop_factory(log)) as runner:
        code = runner.run(_serve(config, log))
        if not runner.run(_executor_drained(EXECUTOR_GRACE)):
            # A thread stuck in a syscall (a FIFO, a hung NFS mount, NSS asking a dead LDAP) would
            # keep the process alive forever, past systemd's stop timeout: the agent is closed, so leave.
            main = threading.main_thread()
            stuck = [t.name for t in threading.enumerate() if t is not main and t.is_alive() and not t.daemon]
            event(log, logging.WARNING, "exit_with_stuck_threads", threads=",".join(stuck)[:200])
            logging.shutdown()
            sys.stdout.flush()
            os._exit(code)
        return code


async def _executor_drained(timeout: float) -> bool:  # noqa: ASYNC109 - the caller's bound on an exit step
    """Shut the default executor down; False when its threads did not finish within ``timeout``."""
    shutdown = asyncio.ensure_future(asyncio.get_running_loop().shutdown_default_executor())
    done, _ = await asyncio.wait({shutdown}, timeout=timeout)
    return bool(done)


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
