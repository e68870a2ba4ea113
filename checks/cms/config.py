"""Settings of the ``cms`` check."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yarl

from checks.cms.versions import Version, parse_version
from sitewatch.probe import CheckConfig, Duration

__all__ = ["CmsConfig", "ComponentsConfig", "SourcesConfig", "VersionText", "default_cache_dir"]

WP_VERSION_CHECK = "https://api.wordpress.org/core/version-check/1.7/"
WP_STABLE_CHECK = "https://api.wordpress.org/core/stable-check/1.0/"


def default_cache_dir() -> Path:
    """Where source answers are cached when ``cache_dir`` is not set."""
    return Path(tempfile.gettempdir()) / "sitewatch-cms"


def _version(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"expected a version in quotes like '6.4.2', got {value!r} (YAML reads 6.40 as a number)")
    if not isinstance(value, str) or parse_version(value) is None:
        raise ValueError(f"expected a version like 6.4.2, 23.850.0 or 2.4.7-p3, got {value!r}")
    return value.strip()


def _url(value: Any) -> str:
    url = yarl.URL(str(value))
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return str(value)


#: A version string validated at config load (kept as text; parsed with ``parse_version``).
VersionText = Annotated[str, pydantic.BeforeValidator(_version)]
Url = Annotated[str, pydantic.BeforeValidator(_url)]


class SourcesConfig(CheckConfig):
    """``sources:`` — where to learn the latest and the known-insecure versions."""

    wordpress_latest: Url | None = WP_VERSION_CHECK
    wordpress_insecure: Url | None = WP_STABLE_CHECK
    magento_latest: Url | None = None  # {"2.4": "2.4.7-p3", ...} or a GitHub-tags-style list
    magento_advisories: Url | None = None  # an OSV /v1/query endpoint, e.g. https://api.osv.dev/v1/query
    magento_osv_package: str = "magento/community-edition"  # the Packagist name OSV files advisories under


Score = Annotated[float, pydantic.Field(ge=0.0, le=10.0)]


class ComponentsConfig(CheckConfig):
    """``components:`` — how installed plugins, themes and modules are judged against the advisory snapshots."""

    judge: bool = True  # false: list the components only
    #: An older snapshot proves no absence: its components become unknown (a warning says so).
    max_snapshot_age: Duration = 3 * 86400.0
    cvss_critical: Score = 9.0  # a vulnerable component scored at least this makes the check critical
    cvss_warning: Score = 0.0  # ... at least this: warning (an unscored advisory counts as this)
    #: Stale or failing vulnerability data: a warning on every site (default), or ``ok`` and the agent-wide
    #: ``sitewatch_vulnerability_source_failing`` / ``_snapshot_age_seconds`` alert once for all of them.
    stale_status: Literal["warning", "ok"] = "warning"
    #: The ticket's priority when a matched advisory is exploited in the wild (the source or a KEV list says so).
    exploited_priority: Literal["P1", "P2", "P3", "P4"] = "P1"

    @pydantic.model_validator(mode="after")
    def _order(self) -> ComponentsConfig:
        if self.cvss_warning > self.cvss_critical:
            raise ValueError(f"expected cvss_warning <= cvss_critical, got {self.cvss_warning} > {self.cvss_critical}")
        return self


class CmsConfig(CheckConfig):
    """``type: cms`` — which CMS and core version a site runs, and whether it is outdated or insecure."""

    cms: Literal["auto", "wordpress", "bitrix", "magento"] = "auto"
    root: Path | None = None  # the install directory on this server; local files are authoritative
    remote: bool = True  # also fingerprint the site over HTTP (fallback and cross-check)
    min_version: VersionText | None = None  # below this: critical
    max_minor_behind: Annotated[int, pydantic.Field(ge=0, le=1000)] | None = None  # more behind latest: warning
    bitrix_modules_file: Path | None = None  # ops' own minimum safe module versions, merged over the shipped file
    eol_status: Literal["warning", "critical"] = "critical"  # for end-of-life cores (Magento 1)
    sources: SourcesConfig = SourcesConfig()
    cache_dir: Path | None = None  # default: <tmp>/sitewatch-cms
    refresh: Duration = 12 * 3600.0
    retry: Duration = 600.0  # after a failed refresh, wait this long before asking again
    source_timeout: Duration = 5.0  # never more than the check's own timeout
    # Warn when a source has been failing this long (3 days rides out a weekend outage upstream,
    # not a week in which an insecure listing would go unseen).
    latest_unknown_warn: Duration = 3 * 86400.0
    max_body: Annotated[int, pydantic.Field(ge=1024)] = 1024 * 1024
    components: ComponentsConfig = ComponentsConfig()

    @pydantic.field_validator("root", "bitrix_modules_file")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_absolute():
            raise ValueError(f"expected an absolute path, got {str(value)!r}")
        return value

    @pydantic.field_validator("bitrix_modules_file")
    @classmethod
    def _rules_file(cls, value: Path | None) -> Path | None:
        # Validated at config load (a blocking read is fine there) so a typo is a config error, not a 3 a.m. ticket.
        if value is not None:
            from checks.cms.bitrix import load_rules  # noqa: PLC0415 - bitrix imports this module's siblings

            try:
                load_rules(value.read_text("utf-8"), str(value))
            except OSError as exc:
                raise ValueError(f"cannot read {value}: {exc.strerror}") from None
        return value

    @property
    def min_version_parsed(self) -> Version | None:
        """``min_version`` as a :class:`Version`."""
        return parse_version(self.min_version) if self.min_version else None
