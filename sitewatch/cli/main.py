"""The ``sitewatch`` command's dispatch: which command the arguments name, and how a failure exits.

``run``, ``check-config``, ``probe``, ``report``, ``tickets``, ``silence``, ``add-site``, ``rules``,
``demo``. The parser is built in :mod:`sitewatch.cli.parser`; each command lives in its own
module. What stays here is the glue argparse cannot express (options that need each other,
the config each command loads) and the exits every command shares.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sitewatch.cli.add_site import AddSite, add_site_command
from sitewatch.cli.check_config import check_config_command
from sitewatch.cli.demo import demo_command
from sitewatch.cli.loading import EXIT_UNUSABLE, load_or_report
from sitewatch.cli.parser import build_parser
from sitewatch.cli.probe import probe_command
from sitewatch.cli.report import report_command
from sitewatch.cli.rules import rules_command
from sitewatch.cli.run import run_command
from sitewatch.cli.silence import silence_command
from sitewatch.cli.tickets import tickets_command
from sitewatch.config.registry import RegistryError
from sitewatch.logs import setup_logging

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sitewatch`` console script."""
    args = build_parser().parse_args(argv)
    log = setup_logging(args.log_format, args.log_level)
    try:
        if args.command == "check-config":
            return check_config_command(Path(args.config), args.shard, offline=args.offline)
        if args.command == "probe":
            return probe_command(
                Path(args.config), args.site, args.check, wide=args.wide, failing=args.failing, log=log
            )
        if args.command == "run":
            return run_command(Path(args.config), log, args.shard, strict=args.strict)
        if args.command == "tickets":
            return _tickets(Path(args.config), args.action, args.number, args.by, args.reason)
        if args.command == "report":
            return _report(Path(args.config), args)
        if args.command == "silence":
            return _silence(Path(args.config), args)
        if args.command == "rules":
            config = load_or_report(Path(args.config))
            return (
                EXIT_UNUSABLE
                if config is None
                else rules_command(config, args.quorum, args.agents, args.hold, args.output)
            )
        if args.command == "demo":
            return demo_command(args.listen, log)
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


def _tickets(path: Path, action: str, number: int | None, by: str | None, reason: str | None) -> int:
    config = load_or_report(path, "defer")  # the store only: no secret is needed
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
    config = load_or_report(path, "defer")
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
    config = load_or_report(path, "defer")
    if config is None:
        return EXIT_UNUSABLE
    sites = {s.info.name for s in config.sites}
    db = config.agent.state_dir / "sitewatch.db"
    return silence_command(db, sites, args.what, args.target, duration=args.duration, reason=args.reason, by=args.by)


if __name__ == "__main__":  # pragma: no cover - `python -m sitewatch.cli`
    sys.exit(main())
