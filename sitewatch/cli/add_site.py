"""``sitewatch add-site URL``: probe a new site, write ``sites.d/<name>.yaml``, validate it like check-config.

The probe is :mod:`sitewatch.cli.onboard`, the YAML :mod:`sitewatch.cli.onboard_render`, the
validations :mod:`sitewatch.cli.add_site_validate`; this module holds the command's order of
steps, the refusals it makes before probing anything, and what it tells the engineer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yarl
from aiohttp.abc import AbstractResolver

from sitewatch.cli.add_site_hosts import check_host, hosts_of, matching_hosts
from sitewatch.cli.add_site_validate import validate_alone, validate_config
from sitewatch.cli.onboard import discover
from sitewatch.cli.onboard_discovery import Discovery, OnboardError, site_url
from sitewatch.cli.onboard_render import render_site
from sitewatch.config.loader import ConfigError, load_config
from sitewatch.config.specs import Config
from sitewatch.net.httpclient import ProbeResolver

__all__ = ["AddSite", "add_site_command", "default_name"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


@dataclass(frozen=True)
class AddSite:
    """The command's arguments."""

    url: str
    config: Path
    name: str | None = None
    root: Path | None = None
    backups: str | None = None
    heartbeat: bool = False
    ca_file: str | None = None
    dry_run: bool = False
    force: bool = False
    client: str | None = None
    #: A ``host: true`` site this one runs on (``depends_on:``), checked against the config.
    depends_on: str | None = None


def default_name(url: yarl.URL) -> str:
    """``shop.example.com`` from ``https://www.shop.example.com/``; a non-default port is kept (``-8080``)."""
    host = (url.host or "site").lower().removeprefix("www.")
    port = url.explicit_port
    name = f"{host}-{port}" if port is not None and port not in (80, 443) else host
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name).strip("-.") or "site"


def add_site_command(
    args: AddSite, *, resolver: AbstractResolver | None = None, log: logging.Logger | None = None
) -> int:
    """Run the command; 0 written (or printed) and valid, 1 refused or invalid, 3 could not probe."""

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        url = site_url(args.url)
    except OnboardError as exc:
        print(f"sitewatch: {exc}", file=sys.stderr)
        return 3
    name = args.name or default_name(url)
    if not _NAME.fullmatch(name):
        print(f"sitewatch: --name {name!r}: use letters, digits, '.', '_' or '-' (it becomes a metric label)")
        return 3
    target = args.config.parent / "sites.d" / f"{name}.yaml"
    token_file = target.with_name(f"{name}.heartbeat-token")
    problem = _preflight(args, name, target)
    if problem is not None:
        print(f"sitewatch: {problem}", file=sys.stderr)
        return 1
    if args.root is not None and not args.root.is_absolute():
        args = AddSite(**{**args.__dict__, "root": args.root.resolve()})
    try:
        found = asyncio.run(
            discover(
                url,
                progress,
                root=args.root,
                backups=args.backups,
                ca_file=args.ca_file,
                resolver=resolver,
                log=log,
                scheme_guessed="://" not in args.url,
            )
        )
    except OnboardError as exc:
        print(f"sitewatch: {exc}", file=sys.stderr)
        return 3
    token = secrets.token_urlsafe(32) if args.heartbeat else None
    loaded = _try_load(args.config) if args.config.is_file() else None
    listen = loaded.agent.listen if loaded is not None else "<agent listen address>"
    offers = _offers(args, loaded, found, resolver)
    text = render_site(
        name,
        found,
        root=args.root,
        backups=args.backups,
        heartbeat_token_file=token_file.name if token else None,
        ca_file=args.ca_file,
        client=args.client,
        depends_on=args.depends_on,
    )
    problems = validate_alone(text, name, token, args.client, args.depends_on)
    if problems:
        print("sitewatch: the generated file does not validate (a bug in add-site; please report it):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    if args.dry_run:
        print(text, end="")
        _report(found, name, target, token, written=False, listen=listen)
        _say_hosts(args.depends_on, offers)
        return 0
    _write(target, text, 0o640)
    if token is not None:
        _write(token_file, token, 0o600)
    _report(found, name, target, token, written=True, listen=listen)
    _say_hosts(args.depends_on, offers)
    return validate_config(args.config, name, target, was_valid=loaded is not None)


def _preflight(args: AddSite, name: str, target: Path) -> str | None:
    """Refusals that need no network: an existing file, a clashing name, a missing config."""
    if not args.dry_run and not args.config.is_file():
        return (
            f"no config at {args.config}; create it (see config.example.yaml) or pass --config,"
            " or use --dry-run to only print the site file"
        )
    if target.exists() and not args.force and not args.dry_run:
        return f"{target} exists; pass --force to replace it, or --name to add the site under another name"
    if args.config.is_file():
        config = _try_load(args.config)
        if config is not None:
            for site in config.sites:
                origin = site.checks[0].origin.file if site.checks else ""
                if site.info.name == name and Path(origin).resolve() != target.resolve():
                    return f"a site named {name!r} is already configured in {origin}; pass --name to pick another"
    if args.client is not None:
        problem = _client_problem(args)
        if problem is not None:
            return problem
    if args.depends_on is not None:
        problem = check_host(args.depends_on, _try_load(args.config) if args.config.is_file() else None)
        if problem is not None:
            return problem
    if args.root is not None and not args.root.is_dir():
        return (
            f"--root {args.root}: not a directory; give the CMS install directory (where wp-config.php or bitrix/ is)"
        )
    if args.backups is not None and not os.path.isabs(args.backups):
        return f"--backups {args.backups!r}: give an absolute path or glob, e.g. /var/backups/shop/*.tar.gz"
    return None


def _client_problem(args: AddSite) -> str | None:
    """``--client`` must name a configured client (checked before anything is probed)."""
    if not args.config.is_file():
        return None if args.dry_run else f"no config at {args.config} to find client {args.client!r} in"
    try:
        config = load_config(args.config, secrets="offline")  # the client list needs no secrets
    except ConfigError:
        return f"{args.config} does not load, so --client {args.client!r} cannot be checked; run check-config"
    known = config.client_book.by_name
    if args.client not in known:
        return f"--client {args.client!r}: expected one of the configured clients ({', '.join(sorted(known))})"
    return None


def _try_load(path: Path) -> Config | None:
    try:
        return load_config(path)
    except ConfigError:
        return None  # reported after writing, by the same validation check-config runs


def _offers(args: AddSite, loaded: Config | None, found: Discovery, resolver: AbstractResolver | None) -> list[str]:
    """Hosts to offer as ``depends_on`` (the new site's address is theirs), when none was given."""
    if args.depends_on is not None or loaded is None or not (hosts := hosts_of(loaded)):
        return []
    owned = resolver is None
    probe_resolver: AbstractResolver = resolver if resolver is not None else ProbeResolver()

    async def match() -> list[tuple[str, str]]:
        try:
            return await matching_hosts(yarl.URL(found.url), hosts, probe_resolver)
        finally:
            if owned:
                await probe_resolver.close()

    return [f"{host} (both at {address})" for host, address in asyncio.run(match())]


def _say_hosts(depends_on: str | None, offers: list[str]) -> None:
    if depends_on is not None:
        print(f"  depends_on: {depends_on} (while it fails, this site opens no ticket of its own)", file=sys.stderr)
    for offer in offers:
        host = offer.split(" ", 1)[0]
        print(
            f"  depends_on: this site runs on host {offer}; run again with --depends-on {host}"
            f" (or add `depends_on: {host}` to the file) so that server's outage is one ticket",
            file=sys.stderr,
        )


def _write(path: Path, text: str, mode: int) -> None:
    """Write atomically (a reload never sees half a file) with ``mode``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(scratch, mode)  # O_CREAT's mode is filtered by the umask
    scratch.replace(path)


def _report(found: Discovery, name: str, target: Path, token: str | None, *, written: bool, listen: str) -> None:
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr)  # noqa: E731 - a one-line alias
    say("")
    say(f"{name}: {found.url}" + (" (https)" if found.https else " (plain http)"))
    for note in found.notes:
        say(f"  - {note}")
    warn, crit = found.thresholds
    say(f"  pageload: warn {warn:g}s, critical {crit:g}s")
    if found.cms:
        say(f"  cms: {found.cms} {found.cms_version or '(version unknown)'}")
    say(f"  {'wrote' if written else 'would write'} {target}")
    if token is not None:
        # Shown once: the file holds it, but nobody should have to go and read it.
        say("")
        if not written:
            say("  heartbeat: a dry run saves no token; the real run generates and shows one")
            return
        say(f"  heartbeat token (shown once): {token}")
        say(f"  the job pings when it is done: curl -fsS -m 10 --retry 3 http://{listen}/ping/{token}")
        say(f"  kept in {target.with_name(f'{name}.heartbeat-token')} (mode 600)")
