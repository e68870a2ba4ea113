"""Latest and known-insecure versions from pluggable sources, cached on disk.

A source is a URL plus a parser. Answers are cached in ``cache_dir`` (one JSON file
per URL) and in memory; a refresh happens at most every ``refresh`` seconds, a failed
one is retried after ``retry`` seconds, and an outage keeps the last known answer
and says how old it is. A refresh never takes longer than the time it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from checks.cms.versions import parse_version
from sitewatch.probe import Context, format_duration, format_size, read_body, read_regular, redact_url

__all__ = [
    "Answer",
    "SourceCache",
    "magento_latest",
    "osv_query",
    "osv_vulns",
    "wordpress_insecure",
    "wordpress_latest",
]

_MAX_BODY = 4 * 1024 * 1024
Parser = Callable[[Any], Any]


def wordpress_latest(doc: Any) -> str:
    """``offers[0].version`` of the WordPress.org version-check API."""
    offers = doc.get("offers") if isinstance(doc, dict) else None
    version = offers[0].get("version") if isinstance(offers, list) and offers and isinstance(offers[0], dict) else None
    if not isinstance(version, str) or parse_version(version) is None:
        raise ValueError("no offers[0].version in the answer")
    return version


def wordpress_insecure(doc: Any) -> dict[str, str]:
    """The stable-check map ``{"6.1.1": "insecure", "6.4.2": "latest", ...}``."""
    if not isinstance(doc, dict) or not doc:
        raise ValueError("expected a non-empty mapping of version to latest/outdated/insecure")
    out = {k: v for k, v in doc.items() if isinstance(v, str) and parse_version(k) is not None}
    if not out or not set(out.values()) <= {"latest", "outdated", "insecure"}:
        raise ValueError("expected values latest, outdated or insecure")
    return out


def magento_latest(doc: Any) -> list[str]:
    """Every release named by ``{"2.4": "2.4.7-p3", ...}``, a list of strings, or GitHub-tags ``[{"name": ...}]``."""
    if isinstance(doc, dict):
        names: list[Any] = list(doc.values())
    elif isinstance(doc, list):
        names = [(item.get("name") if isinstance(item, dict) else item) for item in doc]
    else:
        names = []
    out = sorted({n for n in names if isinstance(n, str) and parse_version(n) is not None})
    if not out:
        raise ValueError("no versions in the answer")
    return out


def osv_query(package: str, version: str) -> dict[str, Any]:
    """The body of an OSV ``/v1/query`` request for one Packagist package version."""
    return {"package": {"ecosystem": "Packagist", "name": package}, "version": version}


def osv_vulns(doc: Any) -> list[str]:
    """Advisory ids (CVE alias preferred) from an OSV query answer; ``{}`` means none."""
    vulns = doc.get("vulns", []) if isinstance(doc, dict) else None
    if not isinstance(vulns, list):
        raise ValueError('expected {"vulns": [...]}')
    out = []
    for vuln in vulns:
        if isinstance(vuln, dict) and isinstance(vuln.get("id"), str):
            cves = [a for a in vuln.get("aliases") or () if isinstance(a, str) and a.startswith("CVE-")]
            out.append((cves or [vuln["id"]])[0][:40])
    return sorted(set(out))


@dataclass(frozen=True)
class Answer:
    """The last known answer of a source and how fresh it is."""

    name: str
    value: Any = None
    fetched: float | None = None  # unix seconds of the last successful refresh
    error: str | None = None  # why the last refresh failed, if it did
    attempted: float | None = None
    failing_since: float | None = None

    def age(self, now: float) -> float | None:
        """Seconds since the last successful refresh."""
        return None if self.fetched is None else max(0.0, now - self.fetched)

    def describe(self, now: float) -> str:
        """``fresh``, ``3h old`` or ``unknown (HTTP 503)`` for details."""
        age = self.age(now)
        where = "unknown" if age is None else f"{format_duration(age)} old"
        return f"{where} (last refresh failed: {self.error})" if self.error else where


# One process-wide view so that sites sharing a source share one refresh.
_MEMORY: dict[str, Answer] = {}
# Refreshes under way, by cache path: concurrent checks of many sites wait for the one request.
_IN_FLIGHT: dict[str, asyncio.Future[Answer]] = {}


class SourceCache:
    """Refreshes and caches source answers in ``cache_dir``."""

    def __init__(self, cache_dir: Path, refresh: float, retry: float) -> None:
        self.cache_dir = cache_dir
        self.refresh = refresh
        self.retry = retry

    def _path(self, url: str, query: Any) -> Path:
        key = url if query is None else url + "\n" + json.dumps(query, sort_keys=True)
        return self.cache_dir / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")

    def _load(self, name: str, path: Path) -> Answer:
        try:
            data = read_regular(path, _MAX_BODY * 2)  # the cache dir may be shared (/tmp): never a FIFO
            if data is None:
                return Answer(name)
            doc = json.loads(data)
            return Answer(
                name,
                doc.get("value"),
                doc.get("fetched"),
                doc.get("error"),
                doc.get("attempted"),
                doc.get("failing_since"),
            )
        except (OSError, ValueError, AttributeError):
            return Answer(name)

    def _save(self, url: str, path: Path, answer: Answer) -> None:
        doc = {
            "url": redact_url(url),
            "value": answer.value,
            "fetched": answer.fetched,
            "error": answer.error,
            "attempted": answer.attempted,
            "failing_since": answer.failing_since,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        # A temporary name of its own in the same directory (one per pid was shared by every writer
        # of the process), then an atomic rename: a reader sees the old or the new file, never half.
        fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    async def get(  # noqa: PLR0917 - one call site, each argument distinct
        self, ctx: Context, name: str, url: str, parse: Parser, budget: float, query: Any = None
    ) -> Answer:
        """The answer of one source, refreshed if due and ``budget`` seconds allow; ``query`` is POSTed as JSON."""
        path = self._path(url, query)
        key = str(path)
        pending = _IN_FLIGHT.get(key)
        if pending is not None:
            # Another site asks the same source right now: share its answer, not a second request.
            try:
                async with asyncio.timeout(budget):
                    return replace(await asyncio.shield(pending), name=name)
            except TimeoutError:
                return replace(_MEMORY.get(key) or Answer(name), name=name)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        _IN_FLIGHT[key] = future
        answer = _MEMORY.get(key) or Answer(name)
        try:
            answer = await self._get(ctx, name, url, parse, budget, query, path)
            return answer
        finally:
            del _IN_FLIGHT[key]
            future.set_result(answer)  # the new answer, or the old one if this caller was cancelled

    async def _get(  # noqa: PLR0917 - the one caller passes get()'s arguments on
        self, ctx: Context, name: str, url: str, parse: Parser, budget: float, query: Any, path: Path
    ) -> Answer:
        answer = _MEMORY.get(str(path))
        if answer is None:
            answer = await asyncio.to_thread(self._load, name, path)
        now = ctx.clock.time()
        fresh = answer.fetched is not None and now - answer.fetched < self.refresh
        backing_off = answer.error is not None and answer.attempted is not None and now - answer.attempted < self.retry
        if fresh or backing_off or budget <= 0:
            _MEMORY[str(path)] = answer
            return answer
        try:
            async with asyncio.timeout(budget):
                value = parse(await _fetch_json(ctx, url, query))
            answer = Answer(name, value, now, None, now, None)
        except TimeoutError:
            answer = _failed(answer, now, f"no answer within {format_duration(budget)}")
        except (aiohttp.ClientError, OSError) as exc:
            answer = _failed(answer, now, f"request failed ({type(exc).__name__})")
        except _BadAnswer as exc:
            answer = _failed(answer, now, str(exc))
        except ValueError as exc:
            answer = _failed(answer, now, f"unexpected answer: {str(exc)[:100]}")
        _MEMORY[str(path)] = answer
        try:
            await asyncio.to_thread(self._save, url, path, answer)
        except OSError as exc:
            ctx.log.warning("cms_cache_write_failed path=%s error=%s", path, type(exc).__name__)
        return answer


class _BadAnswer(Exception):
    """The source answered, but not with what we can use."""


def _failed(previous: Answer, now: float, error: str) -> Answer:
    return replace(previous, error=error, attempted=now, failing_since=previous.failing_since or now)


async def _fetch_json(ctx: Context, url: str, query: Any) -> Any:
    method = "GET" if query is None else "POST"
    async with ctx.session.request(method, url, json=query, timeout=aiohttp.ClientTimeout(total=None)) as resp:
        if resp.status != 200:
            raise _BadAnswer(f"HTTP {resp.status}")
        body = await read_body(resp.content, _MAX_BODY)
    if body.truncated:
        raise _BadAnswer(f"answer larger than {format_size(_MAX_BODY)}")
    try:
        return json.loads(body.data)
    except ValueError:
        raise _BadAnswer("answer is not JSON") from None


def answers_for_metrics(answers: Mapping[str, Answer], now: float) -> dict[str, float]:
    """Age in seconds of every source that has ever answered."""
    return {name: age for name, a in answers.items() if (age := a.age(now)) is not None}
