"""``sitewatch add-site``, the writing half: a commented ``sites.d/<name>.yaml`` from a :class:`Discovery`.

Written as text, not dumped, because the comments are the point: each threshold says why
it has its value, so the engineer who edits it in a year knows what they are changing.
Every value that came from the site or the command line is written as a JSON string,
which YAML reads back exactly (no surprises from ``no``, ``1.10`` or a ``#``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sitewatch.cli.onboard_discovery import FAILURE_PAGES, Discovery, backup_thresholds
from sitewatch.probe import format_duration

__all__ = ["render_site"]

_CMS_NAMES = {"wordpress": "WordPress", "bitrix": "1C-Bitrix", "magento": "Magento"}


def _q(value: object) -> str:
    return json.dumps(str(value), ensure_ascii=False)


def _c(text: object) -> str:
    """Text for a ``#`` comment: one line, whatever a site or an error message contained."""
    return " ".join(str(text).split())


def _seconds(value: float) -> str:
    """A duration the config reads back: ``1.5s``, ``800ms``."""
    return f"{round(value * 1000)}ms" if value < 1 else f"{value:g}s"


def render_site(
    name: str,
    found: Discovery,
    *,
    root: Path | None = None,
    backups: str | None = None,
    heartbeat_token_file: str | None = None,
    ca_file: str | None = None,
    now: dt.datetime | None = None,
    client: str | None = None,
    depends_on: str | None = None,
) -> str:
    """The site file's text: http, pageload, tls (https only), domain (a named host), cms, backup, heartbeat."""
    when = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# {name}: written by `sitewatch add-site` on {when} after probing {found.url}",
        "# Edit freely; `sitewatch check-config` validates it, `systemctl reload sitewatch` applies it.",
        *(f"# - {_c(note)}" for note in found.notes),
        f"name: {_q(name)}",
        f"url: {_q(found.url)}",
        *([f"client: {_q(client)}"] if client else []),
    ]
    if depends_on is not None:
        lines.append(f"depends_on: {_q(depends_on)}   # the server it runs on: while that fails, no ticket of its own")
    lines.append("checks:")
    lines += _http(found)
    lines += _pageload(found)
    if found.https:
        lines += _tls(found, ca_file)
    if found.domain_summary is not None:
        lines += _domain(found)
    lines += _cms(found, root)
    if backups is not None:
        lines += _backup(found, backups)
    if heartbeat_token_file is not None:
        lines += _heartbeat(heartbeat_token_file)
    return "\n".join(lines) + "\n"


def _http(found: Discovery) -> list[str]:
    lines = [
        "  # Up: any 2xx/3xx after redirects, and none of the error pages that still answer 200.",
        f"  # Now: {_c(found.http_summary)}.",
        "  - type: http",
        '    expect_status: ["200-399"]   # 4xx/5xx after redirects opens an incident after 3 failing runs',
        "    not_contains:",
    ]
    lines += [f"      - {_q(text)}   # {who}" for text, who in FAILURE_PAGES]
    if found.untrusted:
        lines.append("    verify_tls: false   # the certificate is not trusted here; the tls check reports that")
    return [*lines, ""]


def _pageload(found: Discovery) -> list[str]:
    warn, crit = found.thresholds
    if found.load_median is not None:
        measured = f"median {format_duration(found.load_median)} over {found.load_samples} requests when added"
    else:
        measured = "not measured when added (the page could not be timed)"
    lines = [
        f"  # Speed, HTML only: {measured}.",
        "  # warn = max(1s, 3 x that median): a busy hour or a cold cache stays quiet, a real slowdown does not;",
        "  # crit = 2 x warn: a page this slow loses visitors. Re-measure with `sitewatch probe` and adjust.",
        "  - type: pageload",
        "    interval: 5m",
        "    timeout: 30s",
        "    samples: 3          # the median of 3 requests is judged, so one slow answer is not an alert",
        f"    warn: {_seconds(warn)}",
        f"    crit: {_seconds(crit)}",
    ]
    if found.untrusted:
        lines.append("    verify_tls: false")
    return [*lines, ""]


def _tls(found: Discovery, ca_file: str | None) -> list[str]:
    lines = [
        f"  # Certificate of the site's host: {_c(found.tls_summary or 'not checked')}.",
        "  - type: tls",
        "    warn_days: 21       # three weeks: time to renew by hand even if automatic renewal broke",
        "    crit_days: 7        # one week left: renew now (expired is always critical)",
    ]
    if ca_file is not None:
        lines.append(f"    ca_file: {_q(ca_file)}   # an internal CA: verify against it, not the system store")
    return [*lines, ""]


def _domain(found: Discovery) -> list[str]:
    return [
        f"  # Registration of the site's domain: {_c(found.domain_summary)}.",
        "  - type: domain       # RDAP, or WHOIS for .ru/.su/.рф; asked once a day",
        "    warn_days: 30       # a month: time to reach whoever pays for the domain",
        "    crit_days: 7        # one week left: renew now (expired, or on hold, is always critical)",
        "",
    ]


def _cms(found: Discovery, root: Path | None) -> list[str]:
    if found.cms is None and root is None:
        return [
            f"  # No WordPress, 1C-Bitrix or Magento was recognised ({_c(found.cms_summary)}).",
            "  # If the site runs one, add --root or uncomment and set root: to the install directory.",
            "  # - type: cms",
            "  #   priority: P4",
            "  #   interval: 6h",
            "  #   root: /var/www/site",
            "",
        ]
    what = _CMS_NAMES.get(found.cms or "", "a CMS")
    version = f" {found.cms_version}" if found.cms_version else ""
    how = {"local": "from the files under root", "remote": "from the site's pages"}.get(found.cms_source or "", "")
    lines = [
        f"  # CMS core: {what}{version} detected {how}".rstrip() + ".",
        "  # Warns when the core is outdated, critical when it is known-insecure (sources: docs/checks/cms.md).",
        "  - type: cms",
        "    priority: P4        # an outdated core is planned work, not an outage",
        "    interval: 6h        # releases are rare; the version sources are asked at most every 12h anyway",
        "    timeout: 20s",
    ]
    if found.cms is not None:
        lines.append(f"    cms: {found.cms}")
    if root is not None:
        lines.append(f"    root: {_q(root)}   # local files are authoritative; the site's pages cross-check them")
    return [*lines, ""]


def _backup(found: Discovery, backups: str) -> list[str]:
    max_age, min_size = backup_thresholds(found.backup_size, found.backup_age)
    return [
        f"  # Backups: {_c(found.backup_summary or 'not looked at')}.",
        "  - type: backup",
        "    interval: 15m",
        "    timeout: 2m",
        f"    path: {_q(backups)}",
        f"    max_age: {max_age:<9}  # a nightly job plus slack (never below the age just measured)",
        f"    min_size: {min_size:<8}  # an empty or truncated archive fails (below the size just measured)",
        "    # min_ratio: 0.5    # uncomment: critical when the newest is under half the size of the one before",
        "    # verify: tar       # gzip | zip | tar | sha256: read the whole archive every verify_every",
        "",
    ]


def _heartbeat(token_file: str) -> list[str]:
    return [
        "  # The backup job (or any cron job) pings the agent when it finishes; silence is critical.",
        "  # The token lives in its own file (mode 600) so this one can go into version control.",
        "  - type: heartbeat",
        f"    token: ${{file:{token_file}}}",
        "    max_age: 26h        # a nightly job plus slack",
        "    grace: 1h           # then one more hour before it is critical",
        "",
    ]
