"""WordPress extensions on disk: plugins, mu-plugins, drop-ins and themes, read as WordPress reads them.

Headers are parsed the way WordPress's ``get_file_data()`` does: the first 8 KiB of the file,
one ``Name: value`` per line after any comment leader (`` * ``, ``//``, ``#``). The content
directory follows ``WP_CONTENT_DIR`` / ``WP_PLUGIN_DIR`` / ``WPMU_PLUGIN_DIR`` when a config file
defines them with a literal path, including Debian's package, whose ``wp-config.php`` loads
``/etc/wordpress/config-<host>.php`` and defaults the content to ``/var/lib/wordpress/wp-content``.
Blocking: call in a worker thread.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from checks.cms.components import MAX_PER_KIND, Component
from checks.cms.model import Reader

__all__ = ["DROPINS", "content_dirs", "header", "inventory"]

_HEAD = 8192  # get_file_data() reads this much
#: Drop-ins WordPress knows (``_get_dropins()``): single files in the content directory.
DROPINS = (
    "advanced-cache.php",
    "blog-deleted.php",
    "blog-inactive.php",
    "blog-suspended.php",
    "db-error.php",
    "db.php",
    "fatal-error-handler.php",
    "install.php",
    "maintenance.php",
    "object-cache.php",
    "php-error.php",
    "sunrise.php",
)
#: Single-file plugins whose WordPress.org slug is not their file name.
_SINGLE_FILE_SLUGS = {"hello": "hello-dolly"}
_DEFINE = re.compile(
    r"""define\s*\(\s*['"](WP_CONTENT_DIR|WP_PLUGIN_DIR|WPMU_PLUGIN_DIR)['"]\s*,\s*"""
    r"""(?:(?P<base>__DIR__|dirname\s*\(\s*__FILE__\s*\)|ABSPATH)\s*\.\s*)?['"](?P<path>[^'"]{1,400})['"]\s*\)"""
)
_DEBIAN_HOSTS = re.compile(r"""['"](/[^'"]{1,200}/)config-['"]""")
_STABLE_TAG = re.compile(rb"^[ \t]*Stable tag:[ \t]*(\S{1,40})", re.MULTILINE | re.IGNORECASE)


def header(data: bytes, name: str) -> str | None:
    """The value of header ``name`` as ``get_file_data()`` finds it; ``None`` if absent or empty."""
    pattern = rb"^(?:[ \t]*<\?php)?[ \t/*#@]*" + re.escape(name.encode()) + rb":(.*)$"
    match = re.search(pattern, data, re.MULTILINE | re.IGNORECASE)
    if match is None:
        return None
    value = match[1].decode("utf-8", "replace")
    value = re.sub(r"\s*(?:\*/|\?>).*", "", value).strip()  # _cleanup_header_comment()
    return value[:200] or None


def _defines(reader: Reader, config: Path, core: Path) -> dict[str, Path]:
    data = (reader.read(config, 64 * 1024) or b"").decode("utf-8", "replace")
    out: dict[str, Path] = {}
    for match in _DEFINE.finditer(data):
        base = match["base"] or ""
        raw = match["path"]
        if base == "ABSPATH":
            path = core / raw.lstrip("/")
        elif base:
            path = config.parent / raw.lstrip("/")
        else:
            path = Path(raw) if raw.startswith("/") else config.parent / raw
        out.setdefault(match[1], path)  # PHP keeps the first define()
    return out


def content_dirs(reader: Reader, core: Path, configs: list[Path]) -> dict[str, Any]:
    """``content``, ``plugins``, ``mu`` directories and which config set them.

    Debian's host configs are loaded before ``wp-config.php``'s guarded defaults, so their
    defines win; a defined directory that does not exist falls back to the default, said so.
    """
    found: dict[str, Path] = {}
    origin: dict[str, str] = {}
    for config in configs:
        text = (reader.read(config, 64 * 1024) or b"").decode("utf-8", "replace")
        hosts = _DEBIAN_HOSTS.search(text)
        host_files = reader.entries(Path(hosts[1]), "config-*.php")[:50] if hosts else []
        for source in (*host_files, config):
            for key, path in _defines(reader, source, core).items():
                if key not in found:
                    found[key], origin[key] = path, str(source)
    out: dict[str, Any] = {"set_by": origin} if origin else {}
    content = found.get("WP_CONTENT_DIR")
    if content is not None and not reader.is_dir(content):
        out["missing"] = str(content)
        content = None
    content = content or core / "wp-content"
    out["content"] = content
    out["plugins"] = found.get("WP_PLUGIN_DIR") or content / "plugins"
    out["mu"] = found.get("WPMU_PLUGIN_DIR") or content / "mu-plugins"
    return out


def _plugin(reader: Reader, path: Path, kind: str, slug: str) -> Component | None:
    head = reader.read(path, _HEAD)
    if head is None:
        return None
    title = header(head, "Plugin Name")
    if title is None and kind == "plugin":
        return None  # WordPress lists only files with a Plugin Name header
    version = header(head, "Version")
    return Component(kind, slug, version, str(path), title or "")


def _directory_plugin(reader: Reader, plugin: Path) -> Component | None:
    for php in reader.entries(plugin, "*.php")[:50]:
        found = _plugin(reader, php, "plugin", plugin.name)
        if found is None:
            continue
        readme = reader.read(plugin / "readme.txt", _HEAD) or reader.read(plugin / "README.txt", _HEAD)
        tag = _STABLE_TAG.search(readme or b"")
        if tag is None:
            return found
        stable = tag[1].decode("ascii", "replace")
        extra: dict[str, Any] = {"stable_tag": stable}
        if found.version and stable.lower() != "trunk" and stable != found.version:
            # The header is what WordPress runs; a different readme tag is worth a look, not a verdict.
            extra["readme_differs"] = True
        return Component(found.kind, found.name, found.version, found.where, found.title, extra)
    return None


def _plugins(reader: Reader, base: Path, cut: list[str]) -> list[Component]:
    out: list[Component] = []
    entries = reader.entries(base) if reader.is_dir(base) else []
    for entry in entries:
        if len(out) >= MAX_PER_KIND:
            cut.append(f"plugins after {MAX_PER_KIND}")
            break
        if entry.suffix == ".php" and not reader.is_dir(entry):
            stem = entry.stem
            found = _plugin(reader, entry, "plugin", _SINGLE_FILE_SLUGS.get(stem, stem))
            if found is not None:
                out.append(replace(found, extra={"single_file": True}))
        elif reader.is_dir(entry) and (found := _directory_plugin(reader, entry)) is not None:
            out.append(found)
    return out


def _themes(reader: Reader, base: Path) -> list[Component]:
    out: list[Component] = []
    entries = [e for e in reader.entries(base) if reader.is_dir(e)] if reader.is_dir(base) else []
    names = {e.name for e in entries}
    for theme in entries[:MAX_PER_KIND]:
        css = theme / "style.css"
        head = reader.read(css, _HEAD) or b""
        title = header(head, "Theme Name")
        if title is None:
            continue
        extra: dict[str, Any] = {}
        if parent := header(head, "Template"):
            extra["parent"] = parent
            if parent not in names:
                extra["parent_missing"] = True  # WordPress shows such a child theme as broken
        out.append(Component("theme", theme.name, header(head, "Version"), str(css), title, extra))
    return out


def inventory(reader: Reader, core: Path, plugins_dir: Path, configs: list[Path]) -> dict[str, Any]:
    """Every plugin, mu-plugin, drop-in and theme; ``plugins_dir`` is the layout's default plugin directory."""
    dirs = content_dirs(reader, core, configs)
    if "WP_CONTENT_DIR" not in dirs.get("set_by", {}) and "WP_PLUGIN_DIR" not in dirs.get("set_by", {}):
        dirs["plugins"] = plugins_dir
        if plugins_dir.name == "plugins" and plugins_dir.parent.name == "app":
            dirs["content"] = plugins_dir.parent  # Bedrock: web/app is the content directory
            dirs["mu"] = plugins_dir.parent / "mu-plugins"
    cut: list[str] = []
    components = _plugins(reader, dirs["plugins"], cut)
    mu = dirs["mu"]
    for php in (reader.entries(mu, "*.php") if reader.is_dir(mu) else [])[:MAX_PER_KIND]:
        found = _plugin(reader, php, "mu-plugin", php.stem)
        if found is not None:
            components.append(found)
    content = dirs["content"]
    for name in DROPINS:
        found = _plugin(reader, content / name, "dropin", name)
        if found is not None:
            components.append(found)
    components.extend(_themes(reader, content / "themes"))
    where = {k: str(dirs[k]) for k in ("content", "plugins", "mu")}
    info: dict[str, Any] = {"components": components, "dirs": where}
    if dirs.get("set_by"):
        info["dirs_set_by"] = dirs["set_by"]
    if dirs.get("missing"):
        info["content_dir_missing"] = dirs["missing"]
    if cut:
        info["cut"] = cut
    return info
