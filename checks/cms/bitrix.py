"""1C-Bitrix: core and module versions from the install, presence from the site, module rules.

Bitrix files are often windows-1251; everything here reads bytes and only decodes the
ASCII version strings it extracts.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from checks.cms.components import Component
from checks.cms.model import Finding, Page, Reader, same_site_paths
from checks.cms.versions import Version, parse_version

__all__ = ["ModuleRule", "detect_local", "detect_remote", "load_rules", "shipped_rules", "violations"]

LAYOUTS = ("", "current")
MAX_MODULES = 1000
_SM_VERSION = re.compile(rb"""define\s*\(\s*['"]SM_VERSION['"]\s*,\s*['"]([^'"]{1,40})['"]""")
_SM_DATE = re.compile(rb"""define\s*\(\s*['"]SM_VERSION_DATE['"]\s*,\s*['"]([^'"]{1,40})['"]""")
# $arModuleVersion = array("VERSION" => "x") / ["VERSION" => "x"] / $arModuleVersion["VERSION"] = "x"
_MODULE_VERSION = re.compile(rb"""['"]VERSION['"]\s*(?:\]\s*=|=>)\s*['"]([^'"]{1,40})['"]""")
_MODULE_DATE = re.compile(rb"""['"]VERSION_DATE['"]\s*(?:\]\s*=|=>)\s*['"]([^'"]{1,40})['"]""")
_MODULE_NAME = re.compile(r"[a-z0-9_.]{1,64}")
SHIPPED_FILE = "bitrix_min_versions.yaml"


@dataclass(frozen=True)
class ModuleRule:
    """A module below ``min_version`` is known-vulnerable; ``note`` says why (CVE, advisory)."""

    module: str
    min_version: Version
    note: str = ""


def _module_versions(reader: Reader, base: Path, limit: int, found: dict[str, Component]) -> dict[str, str]:
    """``{module: version}`` under ``base``; every module, versioned or not, also lands in ``found``."""
    out: dict[str, str] = {}
    if not reader.is_dir(base):
        return out
    for entry in reader.entries(base)[:limit]:
        if not _MODULE_NAME.fullmatch(entry.name) or not reader.is_dir(entry):
            continue
        path = entry / "install" / "version.php"
        data = reader.read(path, 64 * 1024)
        match = _MODULE_VERSION.search(data or b"")
        version = parse_version(match[1].decode("ascii", "replace")) if match else None
        date = _MODULE_DATE.search(data or b"")
        extra: dict[str, Any] = {"partner": "." in entry.name, "under": base.parent.name}
        if date:
            extra["version_date"] = date[1].decode("ascii", "replace")
        found[entry.name] = Component("module", entry.name, str(version) if version else None, str(path), extra=extra)
        if version is not None:
            out[entry.name] = str(version)
    return out


def detect_local(root: Path, reader: Reader | None = None) -> Finding | None:
    """Core ``SM_VERSION`` and every module's version; ``local/modules`` overrides. Blocking."""
    reader = reader or Reader()
    for layout in LAYOUTS:
        site = root / layout if layout else root
        version_file = site / "bitrix" / "modules" / "main" / "classes" / "general" / "version.php"
        data = reader.read(version_file, 64 * 1024)
        if data is None:
            continue
        match = _SM_VERSION.search(data)
        version = parse_version(match[1].decode("ascii", "replace")) if match else None
        date = _SM_DATE.search(data)
        components: dict[str, Component] = {}
        modules = _module_versions(reader, site / "bitrix" / "modules", MAX_MODULES, components)
        # local/modules is listed second so that its copy of a module wins, as in Bitrix's loader.
        overrides = _module_versions(reader, site / "local" / "modules", MAX_MODULES, components)
        modules.update(overrides)
        if version is not None:
            modules.setdefault("main", str(version))
        extra: dict[str, Any] = {
            "modules": modules,
            "local_modules": sorted(overrides),
            "components": [c for name, c in sorted(components.items()) if name != "main"],
        }
        if date:
            extra["version_date"] = date[1].decode("ascii", "replace")
        return Finding("bitrix", version, "local", where=str(version_file.resolve()), extra=extra)
    return None


def detect_remote(home: Page | None) -> Finding | None:
    """Presence only (Bitrix never shows its version): headers, cookies, own ``/bitrix/`` assets."""
    if home is None:
        return None
    signals = []
    if "bitrix" in home.header("x-powered-cms").lower():
        signals.append("X-Powered-CMS")
    if home.header("x-bitrix-composite"):
        signals.append("X-Bitrix-Composite")
    if any(value.lstrip().upper().startswith("BITRIX_SM_") for value in home.headers.get("set-cookie", ())):
        signals.append("BITRIX_SM_ cookie")
    # Only the site's own /bitrix/ paths: a Bitrix24 chat widget loads from a bitrix24 CDN host.
    if any(path.startswith("/bitrix/") for path in same_site_paths(home.body, home.url)):
        signals.append("/bitrix/ assets")
    if not signals:
        return None
    return Finding("bitrix", None, "remote", where="/", extra={"signals": signals})


def load_rules(text: str, origin: str) -> dict[str, ModuleRule]:
    """Parse a rules file (see docs/checks/cms.md); ``ValueError`` names what is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{origin}: not valid YAML ({exc})") from None
    modules = data.get("modules") if isinstance(data, Mapping) else None
    if not isinstance(modules, Mapping):
        raise ValueError(f"{origin}: expected a mapping with modules: {{<module>: {{min_version: ...}}}}")
    rules = {}
    for name, spec in modules.items():
        raw = spec.get("min_version") if isinstance(spec, Mapping) else spec
        version = parse_version(raw) if isinstance(raw, str) else None
        if not isinstance(name, str) or not _MODULE_NAME.fullmatch(name) or version is None:
            raise ValueError(f"{origin}: modules.{name}: expected min_version: '<version in quotes>'")
        note = str(spec.get("note", "")) if isinstance(spec, Mapping) else ""
        rules[name] = ModuleRule(name, version, note)
    return rules


def shipped_rules() -> dict[str, ModuleRule]:
    """The rules file shipped with sitewatch (empty if the package was built without it). Blocking."""
    try:
        text = importlib.resources.files("checks.cms").joinpath(SHIPPED_FILE).read_text("utf-8")
    except FileNotFoundError:
        return {}
    return load_rules(text, SHIPPED_FILE)


def violations(modules: Mapping[str, str], rules: Mapping[str, ModuleRule]) -> list[str]:
    """``vote 21.0.99 < 21.0.100 (CVE-…)`` for every installed module below its minimum."""
    out = []
    for name, text in sorted(modules.items()):
        rule, version = rules.get(name), parse_version(text)
        if rule is not None and version is not None and version < rule.min_version:
            out.append(f"{name} {version} < {rule.min_version}" + (f" ({rule.note})" if rule.note else ""))
    return out
