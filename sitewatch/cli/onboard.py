"""``sitewatch add-site``, the probing half: what a new site answers, found by running the real checks once.

The checks are looked up in the registry by type name and run through the scheduler's
``run_once`` exactly as the agent runs them, so onboarding sees what monitoring will see and
the core still imports no concrete check. What it fills in, and the rules that turn that into
thresholds, are in :mod:`sitewatch.cli.onboard_discovery`.
"""

from __future__ import annotations

import ipaddress
import logging
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yarl
from aiohttp.abc import AbstractResolver

from sitewatch.cli.onboard_discovery import FAILURE_PAGES, Discovery, OnboardError
from sitewatch.config.registry import load_checks
from sitewatch.config.sourcemap import Origin
from sitewatch.config.specs import CheckSpec
from sitewatch.engine.results import RunRecord
from sitewatch.engine.scheduler import Scheduler
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import SiteInfo, Status, format_duration

__all__ = ["discover"]

#: Load-time samples taken once to pick the pageload thresholds.
SAMPLES = 5
_TIMEOUTS = {"http": 15.0, "pageload": 60.0, "tls": 15.0, "cms": 30.0, "backup": 60.0, "domain": 15.0}
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Detection only: the version sources (api.wordpress.org, …) are for the running agent to ask.
_NO_SOURCES = {"wordpress_latest": None, "wordpress_insecure": None, "magento_latest": None}


class _Runner:
    """Runs registered checks once against one site, as the agent would."""

    def __init__(self, resolver: AbstractResolver, user_agent: str, log: logging.Logger) -> None:
        self.checks = load_checks()
        self.session = make_session(resolver, user_agent=user_agent)
        self.scheduler = Scheduler.for_one_shot(session=self.session, resolver=resolver, log=log)

    async def run(self, check_type: str, url: yarl.URL, settings: Mapping[str, Any]) -> RunRecord:
        cls = self.checks.get(check_type)
        if cls is None:
            raise OnboardError(f"check type {check_type!r} is not installed (reinstall sitewatch)")
        timeout = _TIMEOUTS[check_type]
        spec = CheckSpec(
            SiteInfo("add-site", url),
            check_type,
            check_type,
            timeout,
            timeout,
            cls.Config.model_validate(dict(settings)),
            cls,
            Origin("add-site", 0),
        )
        return await self.scheduler.run_once(spec)

    async def close(self) -> None:
        await self.session.close()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _alternative(url: yarl.URL) -> yarl.URL | None:
    """The same site on the other scheme, when the port is the scheme's default (else it makes no sense)."""
    if url.explicit_port is not None and url.explicit_port != _DEFAULT_PORTS[url.scheme]:
        return None
    other = "https" if url.scheme == "http" else "http"
    return url.with_scheme(other).with_port(None)


async def discover(
    given: yarl.URL,
    progress: Callable[[str], None],
    *,
    root: Path | None = None,
    backups: str | None = None,
    ca_file: str | None = None,
    resolver: AbstractResolver | None = None,
    user_agent: str = "sitewatch-add-site",
    log: logging.Logger | None = None,
    scheme_guessed: bool = False,
) -> Discovery:
    """Probe ``given`` once with the http, pageload, tls, cms (and backup) checks.

    ``scheme_guessed``: the user typed no scheme (``shop.example.com:8080``), so https was a guess
    and plain http on the same port is tried when https does not answer.
    """
    own_resolver = resolver is None
    resolver = resolver or ProbeResolver()
    runner = _Runner(resolver, user_agent, log or logging.getLogger("sitewatch.add-site"))
    try:
        found = await _http(runner, given, progress, scheme_guessed)
        await _rest(runner, found, progress, root=root, backups=backups, ca_file=ca_file)
        return found
    finally:
        await runner.close()
        if own_resolver:
            await resolver.close()


async def _reachable(runner: _Runner, url: yarl.URL, progress: Callable[[str], None]) -> tuple[RunRecord, bool]:
    """Run the http check; on an untrusted certificate, once more without verification."""
    progress(f"fetching {url} …")
    # The same refusals the written check will have, so a broken page is found now, not at the first run.
    settings: dict[str, Any] = {"not_contains": [text for text, _ in FAILURE_PAGES]}
    record = await runner.run("http", url, settings)
    # Also after a redirect from http: the summary names the certificate whichever hop it was.
    untrusted = record.result.summary.startswith("TLS certificate")
    if untrusted:
        progress(f"  {record.result.summary}; trying again without verifying the certificate")
        record = await runner.run("http", url, {**settings, "verify_tls": False})
    return record, untrusted


async def _http(
    runner: _Runner, given: yarl.URL, progress: Callable[[str], None], scheme_guessed: bool = False
) -> Discovery:
    notes: list[str] = []
    other = _alternative(given)
    if other is None and scheme_guessed and given.scheme == "https":
        other = given.with_scheme("http")  # HOST:PORT typed bare: the port may well speak plain http
    first, untrusted = given, False
    if given.scheme == "http" and other is not None:
        # Prefer https when the site has it: an http-only config would never watch the certificate.
        record, untrusted = await _reachable(runner, other, progress)
        if record.result.status is Status.OK and not untrusted:
            notes.append(f"{given} was given; {other} answers too, so the site is watched over https")
            first = other
        else:
            progress(f"  https: {record.result.summary}; staying with http")
            untrusted = False
    if first == given:
        record, untrusted = await _reachable(runner, given, progress)
    if record.result.status is Status.ERROR and given.scheme == "https" and other is not None:
        progress(f"  {record.result.summary}; trying {other}")
        fallback, _ = await _reachable(runner, other, progress)
        if fallback.result.status is not Status.ERROR:
            notes.append(f"https did not answer ({record.result.summary}); the site is watched over http")
            record, untrusted = fallback, False
    result = record.result
    progress(f"  {result.status.value.upper()}: {result.summary}")
    if result.status in (Status.ERROR, Status.CRITICAL):
        raise OnboardError(
            f"the site does not work at {given} ({result.summary}); "
            "check the URL (and DNS, firewall) and run add-site again once it answers"
        )
    final = yarl.URL(str(result.details.get("final_url") or given))
    redirects = len(result.details.get("redirects") or ())
    if redirects:
        notes.append(f"followed {redirects} redirect{'s' * (redirects != 1)} to {final}")
    if untrusted:
        notes.append(
            "the certificate is not trusted by this server's CA store: http and pageload skip verification"
            " (verify_tls: false); the tls check judges the chain"
        )
    return Discovery(
        url=str(final),
        https=final.scheme == "https",
        untrusted=untrusted,
        http_summary=result.summary,
        redirects=redirects,
        notes=notes,
    )


async def _rest(
    runner: _Runner,
    found: Discovery,
    progress: Callable[[str], None],
    *,
    root: Path | None,
    backups: str | None,
    ca_file: str | None,
) -> None:
    url = yarl.URL(found.url)
    verify = {"verify_tls": False} if found.untrusted else {}
    progress(f"timing the page ({SAMPLES} samples) …")
    page = (await runner.run("pageload", url, {"samples": SAMPLES, **verify})).result
    found.pageload_summary = page.summary
    load = page.details.get("load_seconds")
    if isinstance(load, int | float) and page.status is not Status.ERROR:
        found.load_median, found.load_samples = float(load), SAMPLES
        warn, crit = found.thresholds
        progress(
            f"  median {format_duration(load)}: warn at {format_duration(warn)}, critical at {format_duration(crit)}"
        )
    else:
        progress(f"  could not time the page ({page.summary}); using the 1s/2s defaults")
    if found.https:
        progress("checking the certificate …")
        tls = (await runner.run("tls", url, {"ca_file": ca_file} if ca_file else {})).result
        found.tls_summary = tls.summary
        progress(f"  {tls.status.value.upper()}: {tls.summary}")
    if not _is_ip(url.host or ""):
        progress("looking up the domain's registration …")
        # A throwaway cache: add-site leaves no state behind; the agent asks again (once a day).
        with tempfile.TemporaryDirectory(prefix="sitewatch-add-site-") as cache:
            domain = (await runner.run("domain", url, {"cache_dir": cache})).result
        found.domain_summary = domain.summary
        progress(f"  {domain.status.value.upper()}: {domain.summary}")
    progress("detecting the CMS …")
    settings: dict[str, Any] = {"sources": _NO_SOURCES}
    if root is not None:
        settings["root"] = str(root)
    if found.untrusted:
        settings["remote"] = root is None  # the cms check's fetch always verifies: only a root can tell
    cms = (await runner.run("cms", url, settings)).result
    found.cms_summary = cms.summary
    if cms.details.get("cms"):
        found.cms = str(cms.details["cms"])
        found.cms_version = str(cms.details["version"]) if cms.details.get("version") else None
        found.cms_source = str(cms.details.get("source") or "")
        progress(f"  {cms.summary} ({found.cms_source})")
    else:
        progress(f"  none found: {cms.summary}")
    if backups is not None:
        progress(f"looking at backups {backups} …")
        backup = (await runner.run("backup", url, {"path": backups})).result
        found.backup_summary = f"{backup.status.value.upper()}: {backup.summary}"
        measured = {s.name: s.value for s in backup.samples}
        found.backup_size = measured.get("sitewatch_backup_size_bytes")
        found.backup_age = measured.get("sitewatch_backup_age_seconds")
        progress(f"  {found.backup_summary}")
