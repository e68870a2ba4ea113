"""What one request chain of the ``http`` check means: its status, one-line summary and samples.

Separate from fetching (:mod:`checks.http_fetch`) because it does no I/O: it reads the
finished :class:`~checks.http_fetch.Fetch` against the settings (status codes, headers,
content, JSON) and the metric table, and is all the check does once the answer is in.
"""

from __future__ import annotations

from typing import Any

from checks.http_config import HttpConfig, describe, find
from checks.http_fetch import Fetch, clean
from checks.http_json import judge
from sitewatch.probe import Sample, Status, format_duration, format_size, worst

__all__ = ["fetch_samples", "judge_fetch"]

_BARE_LF = "server uses bare LF line endings (RFC 9112 allows clients to accept; fix the server)"
#: One label tuple per phase, shared by every result (10,000 checks kept 100,000 copies).
_PHASE_LABELS = {p: (("phase", p),) for p in ("resolve", "connect", "tls", "processing", "transfer")}


def judge_fetch(cfg: HttpConfig, fetch: Fetch, elapsed: float) -> tuple[Status, str, dict[str, Any]]:
    """Status, summary and extra details of a chain that got an answer, against ``cfg``'s expectations."""
    problems: list[tuple[Status, str]] = []
    extra: dict[str, Any] = {}
    code = f"HTTP {fetch.status}" + (f" {fetch.reason}" if fetch.reason else "")
    if not any(fetch.status in r for r in cfg.expect_status):
        expected = ", ".join(map(str, cfg.expect_status))
        problems.append((Status.CRITICAL, f"{code} (expected {expected})"))
    for name, pattern in cfg.expect_headers.items():
        value = fetch.headers.get(name.lower())
        if value is None:
            problems.append((Status.CRITICAL, f"header {name} is missing (expected /{pattern.pattern}/)"))
        elif not pattern.search(value):
            problems.append((Status.CRITICAL, f"header {name} is {clean(value)!r} (expected /{pattern.pattern}/)"))
    for matcher in cfg.not_contains:
        span = find(matcher, fetch.body)
        if span is not None:
            extra.setdefault("matched", _excerpt(fetch.body, span))
            problems.append((Status.CRITICAL, f"page contains {describe(matcher)} ({code})"))
    for matcher in cfg.contains:
        if find(matcher, fetch.body) is None:
            where = f" in the first {format_size(fetch.body_bytes)}" if fetch.truncated else ""
            problems.append((Status.CRITICAL, f"page does not contain {describe(matcher)}{where} ({code})"))
    if cfg.json_:
        cut_at = fetch.body_bytes if fetch.truncated else None
        content_type = fetch.headers.get("content-type", "")
        problems += [(Status.CRITICAL, line) for line in judge(cfg.json_, fetch.body, content_type, cut_at)]
    if fetch.bare_lf:
        problems.append((Status.WARNING, f"{_BARE_LF} ({code})"))
    if problems:
        status = worst(*(s for s, _ in problems))
        extra["problems"] = [text for _, text in problems]
        return status, "; ".join(text for _, text in problems), extra
    size = f", {format_size(fetch.body_bytes)}" if fetch.body_bytes else ""
    if fetch.truncated:  # max_body cut it: the size is what was read, not the page's
        size = f", first {format_size(fetch.body_bytes)} read, body is larger"
    return Status.OK, f"{code} in {format_duration(elapsed)}{size}", extra


def fetch_samples(fetch: Fetch, phases: dict[str, float]) -> tuple[Sample, ...]:
    """The check's metric samples for ``fetch``, whether it got an answer or failed on the way."""
    samples = [
        Sample("probe_http_status_code", fetch.status),
        Sample("probe_http_content_length", fetch.content_length),
        Sample("probe_http_uncompressed_body_length", fetch.body_bytes),
        Sample("probe_http_redirects", len(fetch.chain)),
        Sample("probe_http_ssl", 1.0 if fetch.url.scheme == "https" else 0.0),
    ]
    samples += [Sample("probe_http_duration_seconds", v, _PHASE_LABELS[k]) for k, v in phases.items()]
    if fetch.cert_expiry is not None:
        samples.append(Sample("probe_ssl_earliest_cert_expiry", fetch.cert_expiry))
    return tuple(samples)


def _excerpt(body: str, span: tuple[int, int]) -> str:
    start, end = span
    return clean(body[max(0, start - 40) : end + 80])
