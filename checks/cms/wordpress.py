"""WordPress: core version from ``wp-includes/version.php`` or from the site's fingerprints."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from checks.cms import wp_inventory
from checks.cms.model import Finding, Page, Reader, meta_generators
from checks.cms.versions import Version, parse_version

__all__ = ["LAYOUTS", "SCORE_ASSET", "SCORE_FEED", "SCORE_META", "detect_local", "detect_remote"]

#: Where the core may live under ``root``: classic, Bedrock, a subdirectory install,
#: a symlinked release (``current -> releases/…``) and a public/ docroot.
LAYOUTS = ("", "web/wp", "wp", "wordpress", "current", "current/web/wp", "public")

#: Confidence of one finding, after wpscan: feed generator, meta generator, one asset ``ver``.
SCORE_FEED, SCORE_META, SCORE_ASSET = 80, 60, 40

_WP_VERSION = re.compile(rb"""\$wp_version\s*=\s*['"]([^'"]{1,40})['"]\s*;""")
_MULTISITE = re.compile(rb"""define\s*\(\s*['"]MULTISITE['"]\s*,\s*(?:true|1|'1'|"1")\s*\)""", re.IGNORECASE)
_CONFIG_FILES = ("wp-config.php", "../wp-config.php", "../../config/application.php", "../config/application.php")
_GENERATOR = re.compile(r"^WordPress\s+(\d[\w.\-]*)", re.IGNORECASE)
_FEED_RSS = re.compile(r"<generator>\s*https?://wordpress\.org/\?v=([\w.\-]+)\s*</generator>", re.IGNORECASE)
_FEED_ATOM = re.compile(r"<generator\b[^>]*\bversion=[\"']([\w.\-]+)[\"'][^>]*>\s*WordPress\s*<", re.IGNORECASE)
# ?ver= on core assets; the query may carry other parameters first, HTML-escaped.
_ASSET = re.compile(
    r"/wp-includes/([^\s\"'<>?]*)\?(?:[^\s\"'<>]*?(?:&amp;|&#0?38;|&))?ver=(\d[\w.\-]*)",
    re.IGNORECASE,
)
# Libraries bundled in wp-includes carry their own version (jQuery 3.7.1 is not WordPress 3.7.1).
_VENDORED = re.compile(
    r"(^|/)(jquery|vendor|tinymce|mediaelement|imagesloaded|masonry|underscore|backbone|hoverintent|"
    r"thickbox|codemirror|plupload|clipboard|swfobject|twemoji|polyfill|regenerator|moment|lodash|react)",
    re.IGNORECASE,
)
# WordPress core assets without a version of their own are enqueued with ``$wp_version``, which is
# always major.minor[.patch] (pre-releases -beta1/-RC2). Assets with their own revision (the
# classic-themes stylesheet's ``ver=1``, build hashes in js/dist) never have that shape.
_CORE_RELEASE = re.compile(r"\d{1,2}\.\d{1,2}(?:\.\d{1,3})?(?:-(?:alpha|beta|RC)\d{0,3})?", re.IGNORECASE)
_PRESENCE = re.compile(r"/wp-(?:content|includes)/|wp-json|wp-emoji", re.IGNORECASE)


def detect_local(root: Path, reader: Reader | None = None) -> Finding | None:
    """Find the core under ``root`` in any known layout. Blocking: call in a thread.

    What cannot be read is noted in ``reader`` and skipped: an unreadable ``wp-config.php``
    makes multisite unknown (``None``), an unreadable plugin is left out.
    """
    reader = reader or Reader()
    for layout in LAYOUTS:
        core = root / layout if layout else root
        version_file = core / "wp-includes" / "version.php"
        data = reader.read(version_file)
        if data is None:
            continue
        match = _WP_VERSION.search(data)
        version = parse_version(match[1].decode("ascii", "replace")) if match else None
        # Bedrock keeps plugins in web/app/plugins, beside the core rather than inside it.
        plugins_dir = core / ("../app/plugins" if layout.endswith("web/wp") else "wp-content/plugins")
        configs = [core / name for name in _CONFIG_FILES]
        multisite: bool | None = any(_MULTISITE.search(reader.read(path) or b"") for path in configs)
        if not multisite and str(configs[0]) in reader.unreadable:
            multisite = None  # the one file that would say so could not be read
        where = str(version_file.resolve())
        found = wp_inventory.inventory(reader, core, plugins_dir, configs[:1])
        components = found.pop("components")
        # The flat {slug: version} map stays for existing readers of the details.
        plugins = {c.name: c.version for c in components if c.kind == "plugin" and c.version}
        extra = {"multisite": multisite, "layout": layout, "plugins": plugins, "components": components, **found}
        return Finding("wordpress", version, "local", where=where, extra=extra)
    return None


def _votes(home: Page | None, feed: Page | None) -> tuple[Counter[Version], bool, list[str]]:
    votes: Counter[Version] = Counter()
    seen = False
    signals: list[str] = []
    if home is not None and home.ok:
        for content in meta_generators(home.body):
            match = _GENERATOR.match(content)
            if content.lower().startswith("wordpress"):
                seen = True
                signals.append("meta generator")
            version = parse_version(match[1]) if match else None
            if version is not None:
                votes[version] += SCORE_META
        body = home.body.replace("\\/", "/")  # the emoji settings script escapes its URLs
        for path, ver in _ASSET.findall(body):
            seen = True
            version = parse_version(ver) if _CORE_RELEASE.fullmatch(ver) else None
            if version is not None and not _VENDORED.search(path) and not path.startswith("js/dist/"):
                votes[version] += SCORE_ASSET
                signals.append(f"asset {path}")
        if _PRESENCE.search(body) or "api.w.org" in home.header("link"):
            seen = True
            signals.append("wp paths")
    if feed is not None and feed.ok:
        match = _FEED_RSS.search(feed.body) or _FEED_ATOM.search(feed.body)
        version = parse_version(match[1]) if match else None
        if version is not None:
            seen = True
            votes[version] += SCORE_FEED
            signals.append("feed generator")
    return votes, seen, signals


def detect_remote(home: Page | None, feed: Page | None) -> Finding | None:
    """Combine meta, feed and asset findings by score; ``version=None`` when WordPress hides it.

    Same-version findings add up; a tie between the best versions gives no answer.
    """
    votes, seen, signals = _votes(home, feed)
    if not seen:
        return None
    ranked = votes.most_common()
    version = None
    if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
        version = ranked[0][0]
    scores = {str(v): s for v, s in ranked}
    confidence = min(100, ranked[0][1]) if version is not None else 0
    extra = {"scores": scores, "confidence": confidence, "signals": sorted(set(signals))[:10]}
    return Finding("wordpress", version, "remote", where="/", extra=extra)
