"""The ``sitewatch`` argument parser: every command, its options and their ``--help`` texts.

Apart from the dispatch (:mod:`sitewatch.cli.main`) so the surface an engineer types and the
help they read sit in one place, and a new option does not mean reading what the commands do.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sitewatch import __version__
from sitewatch.config.agent import DEFAULT_LISTEN
from sitewatch.reports.formats import FORMATS

__all__ = ["DEFAULT_CONFIG", "build_parser"]

DEFAULT_CONFIG = "/etc/sitewatch/config.yaml"


def build_parser() -> argparse.ArgumentParser:
    """The ``sitewatch`` parser with every command and its options."""
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
