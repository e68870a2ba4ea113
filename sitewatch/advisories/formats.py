"""Parsers for the snapshot formats: Wordfence Intelligence v3, OSV, a curated list, CISA KEV.

Each parser turns the bytes of one download into an indexed :class:`Snapshot`, or raises
``ValueError`` saying what was wrong: a truncated or foreign file must never replace a
good snapshot, so "parsed zero records" is an error too.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import yaml

from sitewatch.advisories.cvss import cvss3_base_score
from sitewatch.advisories.model import Advisory, Affected, Snapshot

__all__ = ["FORMATS", "coverage", "parse_snapshot"]

Index = defaultdict[tuple[str, str], list[Advisory]]
_WORDFENCE_TYPES = {"plugin": "wordpress-plugin", "theme": "wordpress-theme", "core": "wordpress-core"}
#: GitHub's advisory severities (OSV database_specific.severity), worded as CVSS ratings.
_RATINGS = {"critical": "critical", "high": "high", "moderate": "medium", "medium": "medium", "low": "low"}
#: Zip members of an OSV export are many small files; a member past this is not an advisory.
_MAX_MEMBER = 16 * 1024 * 1024

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip(text: str, i: int) -> int:
    """The index of the first non-whitespace character at or after ``i``."""
    match = _SPACE.match(text, i)
    return match.end() if match else i


def _members(text: str) -> Iterator[Any]:
    """The values of a top-level JSON object, or the items of a top-level array, decoded one at a time.

    A whole feed in one ``json.loads`` holds the interpreter lock for its full length (seconds for
    the ~160 MB Wordfence production feed), stalling the agent's event loop although it runs in a
    worker thread; one record per call lets the loop in between, and never builds the whole
    document. Malformed or truncated text raises ``json.JSONDecodeError`` like ``json.loads``.
    """
    i = _skip(text, 0)
    if i >= len(text) or text[i] not in "{[":
        raise json.JSONDecodeError("expected a JSON object or array", text, i)
    close = "}" if text[i] == "{" else "]"
    i = _skip(text, i + 1)
    if text.startswith(close, i):
        i += 1
    else:
        while True:
            if close == "}":
                _, i = _DECODER.raw_decode(text, i)  # the key
                i = _skip(text, i)
                if not text.startswith(":", i):
                    raise json.JSONDecodeError("expected ':'", text, i)
                i = _skip(text, i + 1)
            value, i = _DECODER.raw_decode(text, i)
            yield value
            i = _skip(text, i)
            if text.startswith(",", i):
                i = _skip(text, i + 1)
                continue
            if not text.startswith(close, i):
                raise json.JSONDecodeError(f"expected ',' or '{close}'", text, i)
            i += 1
            break
    if text[i:].strip():
        raise json.JSONDecodeError("extra data", text, i)


def _text(value: Any, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    """A CVSS score from JSON/YAML: a number in 0-10, else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 10:
        return float(value)
    return None


def _bound(value: Any) -> str | None:
    """A range bound; ``*``, empty or missing is open."""
    if not isinstance(value, str) or value.strip() in ("", "*", "0"):
        return None
    return value.strip()


def _wordfence(records: Iterable[Any], index: Index) -> int:
    count = 0
    for record in records:
        if not isinstance(record, dict) or not isinstance(record.get("software"), list):
            continue
        cvss: dict[str, Any] = record["cvss"] if isinstance(record.get("cvss"), dict) else {}
        cve = record.get("cve")
        base = Advisory(
            id=_text(record.get("id"), 64) or "?",
            title=_text(record.get("title")),
            cve=cve if isinstance(cve, str) and cve.startswith("CVE-") else None,
            cvss=_number(cvss.get("score")),
            rating=_RATINGS.get(_text(cvss.get("rating"), 20).lower()),
            url=_text(record.get("cve_link"), 300) or None,
        )
        count += 1
        for software in record["software"]:
            if not isinstance(software, dict) or not isinstance(software.get("slug"), str):
                continue
            ecosystem = _WORDFENCE_TYPES.get(software.get("type", ""))
            versions = software.get("affected_versions")
            if ecosystem is None or not isinstance(versions, dict):
                continue
            ranges = tuple(
                Affected(
                    _bound(r.get("from_version")),
                    r.get("from_inclusive") is not False,
                    _bound(r.get("to_version")),
                    r.get("to_inclusive") is not False,
                )
                for r in versions.values()
                if isinstance(r, dict)
            )
            patched = software.get("patched_versions")
            fixed = tuple(v for v in patched if isinstance(v, str)) if isinstance(patched, list) else ()
            index[(ecosystem, software["slug"].lower())].append(base._replace(ranges=ranges, fixed=fixed))
    return count


def _osv_record(record: Any, index: Index) -> bool:
    if not isinstance(record, dict) or not isinstance(record.get("affected"), list) or record.get("withdrawn"):
        return False
    aliases = [a for a in record.get("aliases") or () if isinstance(a, str)]
    rid = _text(record.get("id"), 64) or "?"
    cve = rid if rid.startswith("CVE-") else next((a for a in aliases if a.startswith("CVE-")), None)
    score = None
    for item in record.get("severity") or ():
        if isinstance(item, dict) and isinstance(item.get("score"), str):
            score = score if score is not None else cvss3_base_score(item["score"])
    specific: dict[str, Any] = record["database_specific"] if isinstance(record.get("database_specific"), dict) else {}
    rating = _RATINGS.get(_text(specific.get("severity"), 20).lower())
    base = Advisory(id=rid, title=_text(record.get("summary")), cve=cve, cvss=score, rating=rating)
    for affected in record["affected"]:
        package = affected.get("package") if isinstance(affected, dict) else None
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            continue
        ranges: list[Affected] = []
        fixed: list[str] = []
        for spec in affected.get("ranges") or ():
            if not isinstance(spec, dict) or spec.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue  # GIT ranges name commits, not versions
            low: str | None = None
            for ev in spec.get("events") or ():
                if not isinstance(ev, dict):
                    continue
                if "introduced" in ev:
                    low = _bound(ev["introduced"])
                elif "fixed" in ev or "limit" in ev:
                    high = _bound(ev.get("fixed", ev.get("limit")))
                    ranges.append(Affected(low, True, high, False))
                    if "fixed" in ev and high:
                        fixed.append(high)
                    low = None
                elif "last_affected" in ev:
                    ranges.append(Affected(low, True, _bound(ev["last_affected"]), True))
                    low = None
            if low is not None or (spec.get("events") and not ranges):
                ranges.append(Affected(low, True, None, False))  # introduced and never fixed
        versions = tuple(v for v in affected.get("versions") or () if isinstance(v, str))
        ecosystem = str(package.get("ecosystem", "")).lower()
        advisory = base._replace(ranges=tuple(ranges), versions=versions, fixed=tuple(fixed))
        index[(ecosystem, package["name"].lower())].append(advisory)
    return True


def _osv(data: bytes, index: Index, limit: int) -> int:
    if data[:4] == b"PK\x03\x04":  # an ecosystem's all.zip: one JSON file per advisory
        count = 0
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = [i for i in archive.infolist() if i.filename.endswith(".json") and i.file_size <= _MAX_MEMBER]
                if sum(i.file_size for i in members) > limit:  # a zip bomb, or far more than an ecosystem holds
                    raise ValueError(f"the archive unpacks to more than {limit} bytes")
                for info in members:
                    count += _osv_record(json.loads(archive.read(info)), index)
        except (zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"not a readable zip archive ({exc})") from None
        return count
    text = data.decode("utf-8")
    if text.lstrip().startswith("["):  # an export as one array: record by record, like the Wordfence feed
        return sum(_osv_record(r, index) for r in _members(text))
    doc = json.loads(text)
    records = doc.get("vulns", [doc]) if isinstance(doc, dict) else None
    if not isinstance(records, list):
        raise ValueError('expected OSV records: a list, {"vulns": [...]} or a zip of JSON files')
    return sum(_osv_record(r, index) for r in records)


def _curated(doc: Any, index: Index) -> int:
    if not isinstance(doc, dict) or not isinstance(doc.get("advisories"), list):
        raise ValueError("expected a mapping with ecosystem: and advisories: [...]")
    ecosystem = str(doc.get("ecosystem", "bitrix")).lower()
    count = 0
    for item in doc["advisories"]:
        if not isinstance(item, dict) or not isinstance(item.get("component"), str) or "id" not in item:
            raise ValueError(f"advisory {count + 1}: expected id: and component:")
        below = _bound(str(item["below"])) if item.get("below") is not None else None
        low = _bound(str(item["from"])) if item.get("from") is not None else None
        cve = str(item["id"]) if str(item["id"]).startswith("CVE-") else item.get("cve")
        index[(ecosystem, item["component"].lower())].append(
            Advisory(
                id=str(item["id"]),
                title=_text(item.get("title")),
                cve=cve if isinstance(cve, str) else None,
                cvss=_number(item.get("cvss")),
                ranges=(Affected(low, True, below, False),),
                fixed=(below,) if below else (),
                exploited=item.get("exploited") is True,
                url=_text(item.get("url"), 300) or None,
            )
        )
        count += 1
    return count


def _kev(doc: Any) -> frozenset[str]:
    vulns = doc.get("vulnerabilities") if isinstance(doc, dict) else None
    if not isinstance(vulns, list):
        raise ValueError('expected {"vulnerabilities": [{"cveID": ...}]}')
    return frozenset(v["cveID"] for v in vulns if isinstance(v, dict) and isinstance(v.get("cveID"), str))


#: format → the ecosystems it covers (OSV: the one named in the source's config).
FORMATS: dict[str, tuple[str, ...]] = {
    "wordfence": ("wordpress-plugin", "wordpress-theme", "wordpress-core"),
    "osv": ("packagist",),
    "curated": ("bitrix",),
    "kev": (),
}


def coverage(fmt: str, ecosystem: str | None = None) -> tuple[str, ...]:
    """The ecosystems a source of ``fmt`` judges (``ecosystem`` overrides OSV's and curated's)."""
    if ecosystem and fmt in ("osv", "curated"):
        return (ecosystem.lower(),)
    return FORMATS[fmt]


def parse_snapshot(
    fmt: str, data: bytes, *, source: str, fetched: float, sha256: str = "", limit: int = 1 << 30
) -> Snapshot:
    """Parse ``data`` (plain bytes; OSV may be a zip, unpacking to at most ``limit`` bytes) into an indexed snapshot."""
    index: Index = defaultdict(list)
    exploited: frozenset[str] = frozenset()
    parse: dict[str, Callable[[], int]] = {
        "wordfence": lambda: _wordfence(_members(data.decode("utf-8")), index),
        "osv": lambda: _osv(data, index, limit),
        "curated": lambda: _curated(yaml.safe_load(data), index),
    }
    try:
        if fmt == "kev":
            exploited = _kev(json.loads(data))
            count = len(exploited)
        else:
            count = parse[fmt]()
    except (json.JSONDecodeError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"not valid {fmt} data ({type(exc).__name__}: {str(exc)[:80]})") from None
    except RecursionError:
        raise ValueError(f"not valid {fmt} data (nested too deeply)") from None
    if count == 0:
        raise ValueError(f"no {fmt} records in the file (truncated or not this format?)")
    frozen = {key: tuple(items) for key, items in index.items()}
    return Snapshot(source, fmt, fetched, count, frozen, exploited, sha256)
