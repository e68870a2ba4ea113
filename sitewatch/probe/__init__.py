"""The public API for checks: everything a check may import from sitewatch.

A check is a small class with a ``type`` name, a pydantic ``Config`` model and one
coroutine ``run(ctx) -> Result``. A failing site is a :class:`Result`; a check
raises only for bugs, and the scheduler turns that into an ``error`` result.

This module is the one import point: checks import ``sitewatch.probe`` and nothing under
it (the import contracts say so). What it defines lives in private modules beside it, one
job each: ``_result`` (statuses, samples, results, thresholds), ``_context`` (what a run
is handed), ``_settings`` (the config base and field types) and ``_check`` (the base
class). The rest is re-exported from the core modules below it. Unlike the other
packages' lazy ``__init__``, it imports all of them at once: every check needs most of
them, and ``__all__`` must list exactly the names it holds.
"""

from __future__ import annotations

from sitewatch.advisories import Advisory, AdvisoryBook, Affected, Snapshot, SourceState, parse_snapshot
from sitewatch.files import (
    FileWorkers,
    NotRegularFile,
    StillRunning,
    describe_os_error,
    open_regular,
    read_regular,
    regular_fd,
)
from sitewatch.net.addresses import (
    PRIVATE_NETWORKS,
    ForbiddenAddress,
    Network,
    forbidden_address,
    private_address,
    untrusted_target,
)
from sitewatch.net.httpclient import ip_preference, resolve_override
from sitewatch.net.httpexchange import exchange
from sitewatch.net.phases import PhaseTimer, measure_phases
from sitewatch.net.response import ExchangeError, HttpAnswer
from sitewatch.net.tlssessions import TlsSessions
from sitewatch.probe._check import AnyCheck, Check
from sitewatch.probe._context import Clock, Context, SiteInfo, SystemClock, redact_url
from sitewatch.probe._result import MetricSpec, Push, Result, Sample, Status, Thresholds, worst
from sitewatch.probe._settings import CheckConfig, Duration, Pattern, Size
from sitewatch.units import format_duration, format_size, parse_duration, parse_size
from sitewatch.untrusted import Body, printable, read_body

__all__ = [
    "Advisory",
    "AdvisoryBook",
    "Affected",
    "AnyCheck",
    "Body",
    "Check",
    "CheckConfig",
    "Clock",
    "Context",
    "Duration",
    "ExchangeError",
    "FileWorkers",
    "ForbiddenAddress",
    "MetricSpec",
    "HttpAnswer",
    "Network",
    "NotRegularFile",
    "PRIVATE_NETWORKS",
    "Pattern",
    "PhaseTimer",
    "Push",
    "Result",
    "Sample",
    "SiteInfo",
    "Snapshot",
    "SourceState",
    "StillRunning",
    "Size",
    "Status",
    "SystemClock",
    "Thresholds",
    "TlsSessions",
    "describe_os_error",
    "exchange",
    "forbidden_address",
    "format_duration",
    "format_size",
    "ip_preference",
    "measure_phases",
    "open_regular",
    "parse_duration",
    "parse_snapshot",
    "parse_size",
    "printable",
    "private_address",
    "read_body",
    "read_regular",
    "regular_fd",
    "redact_url",
    "resolve_override",
    "untrusted_target",
    "worst",
]
