"""Magento 2, Magento 1 and OpenMage: version from the install, or line/presence from the site."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from checks.cms import magento_inventory
from checks.cms.model import Finding, Page, Reader, same_site_paths
from checks.cms.versions import parse_version

__all__ = ["M1_EOL", "PRODUCTS", "detect_local", "detect_remote", "parse_mage_php"]

LAYOUTS = ("", "current")
#: Exact composer package names of the product metapackages (not sample data, not magento2-base).
PRODUCTS = {
    "magento/product-community-edition": "community",
    "magento/product-enterprise-edition": "enterprise",
}
_GIT_NAMES = {"magento/magento2ce": "community", "magento/magento2ee": "enterprise"}
M1_EOL = "2020-06-30"
_COMPOSER_LIMIT = 16 * 1024 * 1024  # composer.lock of a big shop is several MB
_FUNC = r"function\s+{name}\s*\([^)]*\)[^{{]*\{{(?P<body>.*?)\}}"
_PAIR = re.compile(r"""['"](\w+)['"]\s*=>\s*['"]([^'"]*)['"]""")
_MAGENTO_VERSION = re.compile(r"Magento/(\d+\.\d+)\s*\((Community|Enterprise|Commerce)\)", re.IGNORECASE)
_STATIC_STAMP = re.compile(r"/static/version\d+/")


def _packages(doc: Any) -> Iterable[dict[str, Any]]:
    if isinstance(doc, list):  # composer 1 installed.json
        yield from (p for p in doc if isinstance(p, dict))
    elif isinstance(doc, dict):
        for key in ("packages", "packages-dev"):
            yield from (p for p in doc.get(key) or () if isinstance(p, dict))


def _from_composer(reader: Reader, path: Path, *, lock: bool) -> Finding | None:
    data = reader.read(path, _COMPOSER_LIMIT)
    if data is None:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    # Adobe Commerce's lock holds both metapackages (enterprise requires community): the edition
    # is the highest one present, not the first one listed.
    found = {}
    for package in _packages(doc):
        edition = PRODUCTS.get(package.get("name", ""))
        version = parse_version(str(package.get("version", "")))
        if edition and version is not None:
            found[edition] = version
    for edition in ("enterprise", "community"):
        if edition in found:
            return Finding("magento", found[edition], "local", where=str(path.resolve()), edition=edition)
    if not lock and isinstance(doc, dict):
        name = str(doc.get("name", ""))
        version = parse_version(str(doc.get("version", "")))
        edition = _GIT_NAMES.get(name) or ("community" if name == "magento/magento2-base" else "")
        if edition and version is not None:
            return Finding("magento", version, "local", where=str(path.resolve()), edition=edition)
    return None


def parse_mage_php(text: str) -> tuple[str, str] | None:
    """``("magento", "1.9.4.5")`` or ``("openmage", "20.1.0")`` from ``app/Mage.php``."""
    for cms, func, keys in (
        ("openmage", "getOpenMageVersionInfo", ("major", "minor", "patch")),
        ("magento", "getVersionInfo", ("major", "minor", "revision", "patch")),
    ):
        match = re.search(_FUNC.format(name=func), text, re.DOTALL)
        if match is None:
            continue
        info = dict(_PAIR.findall(match["body"]))
        parts = [info.get(k, "") for k in keys]
        if all(p.isdigit() for p in parts):
            return cms, ".".join(parts)
    return None


def detect_local(root: Path, reader: Reader | None = None) -> Finding | None:
    """Magento 2 from composer metadata (lock, installed.json, base package, git root), else Magento 1."""
    reader = reader or Reader()
    for layout in LAYOUTS:
        site = root / layout if layout else root
        for path, lock in (
            (site / "composer.lock", True),
            (site / "vendor" / "composer" / "installed.json", True),
            (site / "vendor" / "magento" / "magento2-base" / "composer.json", False),
            (site / "composer.json", False),
        ):
            found = _from_composer(reader, path, lock=lock)
            if found is not None:
                components = magento_inventory.inventory_m2(reader, site)
                return replace(found, extra={**found.extra, "components": components})
        mage = site / "app" / "Mage.php"
        data = reader.read(mage)
        parsed = parse_mage_php(data.decode("utf-8", "replace")) if data is not None else None
        if parsed is not None:
            cms, text = parsed
            eol = cms == "magento"
            edition = "Magento 1, end of life since " + M1_EOL if eol else ""
            extra = {"components": magento_inventory.inventory_m1(reader, site)}
            where = str(mage.resolve())
            return Finding(cms, parse_version(text), "local", where=where, edition=edition, eol=eol, extra=extra)
    return None


def detect_remote(home: Page | None, version_page: Page | None) -> Finding | None:
    """``/magento_version`` gives the release line; init scripts and static paths prove Magento 2."""
    signals = []
    version = None
    edition = ""
    if version_page is not None and version_page.ok:
        match = _MAGENTO_VERSION.search(version_page.body[:200])
        if match:
            version, edition = parse_version(match[1]), match[2].lower()
            signals.append("/magento_version")
    if home is not None and home.ok:
        if "text/x-magento-init" in home.body:
            signals.append("x-magento-init")
        paths = same_site_paths(home.body, home.url)
        # /static/version<deploy timestamp>/ proves Magento 2; the number is not a version.
        if any(_STATIC_STAMP.match(p) for p in paths):
            signals.append("static deploy stamp")
        if any(p.startswith(("/skin/frontend/", "/js/mage/")) for p in paths) or "Mage.Cookies" in home.body:
            # OpenMage looks the same from outside: end of life is only decided from local files.
            m1 = {"signals": [*signals, "Magento 1 skin"]}
            return Finding("magento", None, "remote", where="/", edition="Magento 1 or OpenMage", extra=m1)
    if not signals:
        return None
    extra: dict[str, Any] = {"signals": signals, "precision": "release line"}
    return Finding("magento", version, "remote", where="/magento_version", edition=edition, extra=extra)
