"""Advisory snapshots in the real formats, for tests and bench/: Wordfence v3, OSV, CISA KEV.

Records follow the formats' public documentation (Wordfence Intelligence "Accessing and
Consuming the Vulnerability Data Feed": records keyed by id, ``software[]`` with
``affected_versions`` ranges and ``patched_versions``, ``cvss``, ``cve``; the OSV schema:
``affected[].package``, ``ranges[].events``, ``severity``, ``database_specific``; CISA's KEV
catalog: ``vulnerabilities[].cveID``). The Contact Form 7 record carries the public facts of
CVE-2020-35489 (NVD: CVSS 3.1 10.0, fixed in 5.3.2); the generated records are made up.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

__all__ = ["CF7_ID", "kev", "osv_record", "wordfence_feed", "wordfence_record"]

CF7_ID = "2ae7c1f1-3e7a-4c51-8a1f-7b0e5f7e3c35"
_VECTORS = [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, "Critical"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "Critical"),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 6.5, "Medium"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "Medium"),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, "Medium"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 5.3, "Medium"),
    ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2, "High"),
]


def wordfence_record(
    rid: str,
    slug: str,
    title: str,
    *,
    kind: str = "plugin",
    to_version: str = "5.3.1",
    from_version: str = "*",
    patched: tuple[str, ...] = ("5.3.2",),
    cve: str | None = "CVE-2020-35489",
    vector: tuple[str, float, str] = _VECTORS[0],
) -> dict[str, Any]:
    """One production-feed record for one piece of software."""
    label = f"{from_version} - {to_version}"
    return {
        "id": rid,
        "title": title,
        "software": [
            {
                "type": kind,
                "name": slug.replace("-", " ").title(),
                "slug": slug,
                "affected_versions": {
                    label: {
                        "from_version": from_version,
                        "from_inclusive": True,
                        "to_version": to_version,
                        "to_inclusive": True,
                    }
                },
                "patched": bool(patched),
                "patched_versions": list(patched),
                "remediation": f"Update to version {patched[0]}, or a newer patched version" if patched else "",
            }
        ],
        "informational": False,
        "description": f"The {slug} plugin for WordPress is vulnerable in versions up to, and including, {to_version}.",
        "references": [f"https://www.wordfence.com/threat-intel/vulnerabilities/id/{rid}"],
        "cwe": {"id": 434, "name": "Unrestricted Upload of File with Dangerous Type", "description": "..."},
        "cvss": {"vector": vector[0], "score": vector[1], "rating": vector[2]},
        "cve": cve,
        "cve_link": f"https://www.cve.org/CVERecord?id={cve}" if cve else None,
        "researchers": ["Jinson Varghese Behanan"],
        "published": "2020-12-17 00:00:00",
        "updated": "2023-07-15 00:00:00",
        "copyrights": {"message": "This record contains material that is subject to copyright"},
    }


def cf7() -> dict[str, Any]:
    """The Contact Form 7 unrestricted file upload (CVE-2020-35489)."""
    return wordfence_record(CF7_ID, "contact-form-7", "Contact Form 7 <= 5.3.1 - Unrestricted File Upload")


def wordfence_feed(records: int = 12_000, seed: int = 23, slugs: int = 6_000) -> bytes:
    """A production feed of ``records`` made-up records over ``slugs`` plugin slugs, plus the CF7 one."""
    rng = random.Random(seed)
    feed: dict[str, Any] = {CF7_ID: cf7()}
    for n in range(records):
        rid = str(uuid.UUID(int=rng.getrandbits(128)))
        slug = f"plugin-{rng.randrange(slugs)}"
        major, minor, patch = rng.randrange(1, 9), rng.randrange(10), rng.randrange(20)
        fixed = f"{major}.{minor}.{patch + 1}"
        unpatched = n % 25 == 0
        feed[rid] = wordfence_record(
            rid,
            slug,
            f"{slug} <= {major}.{minor}.{patch} - Cross-Site Scripting",
            kind="theme" if n % 10 == 0 else "plugin",
            to_version=f"{major}.{minor}.{patch}" if not unpatched else "*",
            patched=() if unpatched else (fixed,),
            cve=f"CVE-20{rng.randrange(19, 26)}-{rng.randrange(1000, 99999)}",
            vector=_VECTORS[n % len(_VECTORS)],
        )
    return json.dumps(feed, indent=2).encode()


def osv_record(
    rid: str, package: str, introduced: str, fixed: str, *, vector: str | None = None, severity: str = "HIGH"
) -> dict[str, Any]:
    """One OSV record for a Packagist package."""
    record: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": rid,
        "modified": "2024-06-01T00:00:00Z",
        "published": "2024-05-01T00:00:00Z",
        "aliases": [],
        "summary": f"{package}: stored cross-site scripting in the admin grid",
        "affected": [
            {
                "package": {"ecosystem": "Packagist", "name": package, "purl": f"pkg:composer/{package}"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]}],
            }
        ],
        "database_specific": {"severity": severity, "cwe_ids": ["CWE-79"]},
    }
    if vector:
        record["severity"] = [{"type": "CVSS_V3", "score": vector}]
    return record


def kev(*cves: str) -> bytes:
    """A CISA Known Exploited Vulnerabilities catalog naming ``cves``."""
    vulns = [
        {
            "cveID": cve,
            "vendorProject": "Example",
            "product": "Example",
            "vulnerabilityName": "Example vulnerability",
            "dateAdded": "2024-01-01",
            "shortDescription": "...",
            "requiredAction": "Apply updates per vendor instructions.",
            "dueDate": "2024-01-22",
            "knownRansomwareCampaignUse": "Unknown",
            "notes": "",
        }
        for cve in cves
    ]
    doc = {"title": "CISA Catalog of Known Exploited Vulnerabilities", "catalogVersion": "2024.01.01"}
    return json.dumps({**doc, "count": len(vulns), "vulnerabilities": vulns}).encode()
