"""Advisory snapshot formats: Wordfence v3, OSV (JSON and zip), the curated list, CISA KEV; CVSS v3 scores."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from sitewatch.advisories import Affected, cvss3_base_score, parse_snapshot
from tests.advisory_feeds import cf7, kev, osv_record


def test_wordfence_record_is_indexed_by_type_and_slug() -> None:
    """A production-feed record lands under (wordpress-plugin, slug) with its range, fix, CVE and CVSS."""
    snap = parse_snapshot("wordfence", json.dumps({"x": cf7()}).encode(), source="wf", fetched=1.0)
    (advisory,) = snap.index[("wordpress-plugin", "contact-form-7")]
    assert advisory.cve == "CVE-2020-35489"
    assert (advisory.cvss, advisory.rating, advisory.fixed) == (10.0, "critical", ("5.3.2",))
    assert advisory.ranges == (Affected(None, True, "5.3.1", True),)
    assert snap.records == 1


def test_wordfence_feed_read_record_by_record_matches_json_loads() -> None:
    """The record-at-a-time reader sees exactly what json.loads sees, whitespace and a list shape included."""
    records = {"x": cf7(), "y": {**cf7(), "id": "y", "cve": "CVE-2020-1"}}
    for data in (json.dumps(records, indent=4), json.dumps(records, separators=(",", ":")), json.dumps([cf7()])):
        snap = parse_snapshot("wordfence", f"\n {data} \n".encode(), source="wf", fetched=1.0)
        assert snap.records == (1 if data.startswith("[") else 2)


def test_wordfence_theme_and_unpatched() -> None:
    """A theme record is a theme; ``to_version: *`` with no patched version is open-ended and unfixed."""
    record = cf7()
    record["software"][0].update(type="theme", slug="Astra", patched_versions=[], patched=False)
    record["software"][0]["affected_versions"] = {
        "*": {"from_version": "*", "from_inclusive": True, "to_version": "*", "to_inclusive": True}
    }
    snap = parse_snapshot("wordfence", json.dumps({"x": record}).encode(), source="wf", fetched=1.0)
    (advisory,) = snap.index[("wordpress-theme", "astra")]
    assert advisory.ranges == (Affected(None, True, None, True),)
    assert advisory.fixed == ()


def test_osv_ranges_score_from_vector_and_zip() -> None:
    """OSV events become ranges, the CVSS vector becomes a score, and an ecosystem's all.zip reads the same."""
    vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"
    record = osv_record("GHSA-test-0001", "Mageplaza/Module-Smtp", "4.0.0", "4.7.2", vector=vector)
    record["affected"][0]["ranges"][0]["events"] += [{"introduced": "5.0.0"}, {"last_affected": "5.0.3"}]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("GHSA-test-0001.json", json.dumps(record))
    for data in (json.dumps([record]).encode(), buffer.getvalue()):
        snap = parse_snapshot("osv", data, source="osv", fetched=1.0)
        (advisory,) = snap.index[("packagist", "mageplaza/module-smtp")]
        assert advisory.cvss == 6.1
        assert advisory.rating == "high"
        assert advisory.ranges == (Affected("4.0.0", True, "4.7.2", False), Affected("5.0.0", True, "5.0.3", True))
        assert advisory.fixed == ("4.7.2",)


def test_osv_zip_over_the_limit_is_refused() -> None:
    """An archive whose members unpack past the limit (a zip bomb) is refused before any is read."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for n in range(3):
            archive.writestr(f"GHSA-{n}.json", json.dumps(osv_record(f"GHSA-{n}", "a/b", "0", "1.0")) + " " * 400_000)
    with pytest.raises(ValueError, match="unpacks to more than 1000000 bytes"):
        parse_snapshot("osv", buffer.getvalue(), source="osv", fetched=1.0, limit=1_000_000)
    assert parse_snapshot("osv", buffer.getvalue(), source="osv", fetched=1.0).records == 3


def test_curated_list_and_kev() -> None:
    """The curated format reads ``below`` as the fix; a KEV catalog yields the exploited CVE ids."""
    doc = b"ecosystem: bitrix\nadvisories:\n  - {id: CVE-2022-27228, component: vote, below: '21.0.100', cvss: 9.8}\n"
    snap = parse_snapshot("curated", doc, source="bx", fetched=1.0)
    (advisory,) = snap.index[("bitrix", "vote")]
    assert (advisory.cve, advisory.fixed, advisory.cvss) == ("CVE-2022-27228", ("21.0.100",), 9.8)
    listed = parse_snapshot("kev", kev("CVE-2020-35489", "CVE-2022-27228"), source="kev", fetched=1.0)
    assert listed.exploited == {"CVE-2020-35489", "CVE-2022-27228"}


@pytest.mark.parametrize(
    ("fmt", "data", "message"),
    [
        ("wordfence", b'{"a": {"id": "a", "soft', "not valid wordfence data"),
        ("wordfence", b"{}", "no wordfence records"),
        ("wordfence", b"<html>502 Bad Gateway</html>", "not valid wordfence data"),
        ("wordfence", b'{"a": {"id": "a"}} and more', "not valid wordfence data"),
        ("wordfence", b'{"a": {"id": "a"} "b": {}}', "not valid wordfence data"),
        ("wordfence", b'{"a" {"id": "a"}}', "not valid wordfence data"),
        ("osv", b"PK\x03\x04garbage", "not a readable zip"),
        ("kev", b'{"vulnerabilities": "x"}', "expected"),
        ("curated", b"advisories: [{component: vote}]", "expected id: and component:"),
    ],
)
def test_bad_snapshots_are_refused(fmt: str, data: bytes, message: str) -> None:
    """Truncated, empty, foreign or malformed data raises ValueError saying what was wrong."""
    with pytest.raises(ValueError, match=message):
        parse_snapshot(fmt, data, source="s", fetched=1.0)


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 5.3),
        ("CVSS:3.0/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", None),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", None),
    ],
)
def test_cvss3_base_scores(vector: str, score: float | None) -> None:
    """Base scores match NVD's calculator for common vectors; v2 and v4 vectors give no score."""
    assert cvss3_base_score(vector) == score
