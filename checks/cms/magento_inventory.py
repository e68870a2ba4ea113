"""Magento extensions on disk: third-party composer packages, ``app/code`` modules and Magento 1 modules.

Magento 2: every package in ``composer.lock`` (or ``vendor/composer/installed.json``) that is
not ``magento/*`` (Adobe's own packages are judged with the core), and every
``app/code/<Vendor>/<Module>`` with its ``composer.json`` version, else ``etc/module.xml``
``setup_version``. Magento 1 / OpenMage: every module declared in ``app/etc/modules/*.xml``
outside the ``core`` pool, with the ``<version>`` of its ``etc/config.xml``.
The XML is read with bounded regexes, never an XML parser: these are someone else's files.
Blocking: call in a worker thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from checks.cms.components import MAX_PER_KIND, Component
from checks.cms.model import Reader

__all__ = ["inventory_m1", "inventory_m2"]

_COMPOSER_LIMIT = 16 * 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_SETUP_VERSION = re.compile(rb"""<module\b[^>]*\bsetup_version\s*=\s*["']([^"']{1,40})["']""")
_M1_MODULE = re.compile(rb"<([A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+)>(.*?)</\1>", re.DOTALL)
_M1_POOL = re.compile(rb"<codePool>\s*(\w{1,20})\s*</codePool>")
_M1_ACTIVE = re.compile(rb"<active>\s*(\w{1,10})\s*</active>")
_M1_VERSION = re.compile(rb"<version>\s*([^<\s]{1,40})\s*</version>")


def _packages(doc: Any) -> Iterable[dict[str, Any]]:
    if isinstance(doc, list):  # composer 1 installed.json
        yield from (p for p in doc if isinstance(p, dict))
    elif isinstance(doc, dict):
        yield from (p for p in doc.get("packages") or () if isinstance(p, dict))  # dev packages do not run


def inventory_m2(reader: Reader, site: Path) -> list[Component]:
    """Third-party packages and ``app/code`` modules of a Magento 2 install."""
    out: list[Component] = []
    seen: set[str] = set()
    for path in (site / "composer.lock", site / "vendor" / "composer" / "installed.json"):
        data = reader.read(path, _COMPOSER_LIMIT)
        try:
            doc = json.loads(data) if data is not None else None
        except ValueError:
            doc = None
        if doc is None:
            continue
        for package in _packages(doc):
            name, version = str(package.get("name", "")).lower(), package.get("version")
            if not _NAME.fullmatch(name) or name.startswith("magento/") or name in seen:
                continue
            if len(out) >= MAX_PER_KIND:
                break
            seen.add(name)
            text = str(version).removeprefix("v")[:40] if isinstance(version, str) else None
            extra = {"type": str(package.get("type", ""))[:40]} if package.get("type") else {}
            out.append(Component("package", name, text, str(path), extra=extra))
        break  # the lock is authoritative; installed.json only when there is no lock
    code = site / "app" / "code"
    vendors = [v for v in reader.entries(code) if reader.is_dir(v)] if reader.is_dir(code) else []
    for vendor in vendors[:200]:
        for module in [m for m in reader.entries(vendor) if reader.is_dir(m)][:200]:
            out.append(_code_module(reader, module))
    return out


def _code_module(reader: Reader, module: Path) -> Component:
    name = f"{module.parent.name}_{module.name}"
    composer = reader.read(module / "composer.json", 256 * 1024)
    try:
        doc = json.loads(composer) if composer is not None else None
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("version"), str):
        package = str(doc.get("name") or "")
        extra = {"package": package.lower()} if _NAME.fullmatch(package) else {}
        return Component("module", name, doc["version"][:40], str(module / "composer.json"), extra=extra)
    xml = module / "etc" / "module.xml"
    match = _SETUP_VERSION.search(reader.read(xml, 64 * 1024) or b"")
    version = match[1].decode("ascii", "replace") if match else None
    return Component("module", name, version, str(xml), extra={"pool": "app/code"})


def inventory_m1(reader: Reader, site: Path) -> list[Component]:
    """Non-core modules declared in ``app/etc/modules/*.xml`` with their ``config.xml`` versions."""
    out: list[Component] = []
    declared = site / "app" / "etc" / "modules"
    for xml in (reader.entries(declared, "*.xml") if reader.is_dir(declared) else [])[:500]:
        for match in _M1_MODULE.finditer(reader.read(xml, 256 * 1024) or b""):
            name, body = match[1].decode("ascii"), match[2]
            pool = _M1_POOL.search(body)
            pool_name = pool[1].decode("ascii") if pool else "local"
            if pool_name == "core" or len(out) >= MAX_PER_KIND:
                continue  # Mage_* ships with the core and is judged with it
            active = _M1_ACTIVE.search(body)
            config = site / "app" / "code" / pool_name / Path(*name.split("_", 1)) / "etc" / "config.xml"
            version = _M1_VERSION.search(reader.read(config, 256 * 1024) or b"")
            extra = {"pool": pool_name, "active": not active or active[1].lower() == b"true", "declared": str(xml)}
            text = version[1].decode("ascii", "replace") if version else None
            out.append(Component("module", name, text, str(config), extra=extra))
    return out
