"""Real-sized answers for the cms tests: a WordPress 6.1 front page and the WordPress.org API answers.

Shapes follow what a Debian WordPress 6.1.9 (classic theme, plain permalinks, emoji
script disabled) and the version-check / stable-check APIs send; sizes are real
(about 28 KB and 14 KB), so a reader that stops at the first network chunk fails.
"""

from __future__ import annotations

import json

__all__ = ["GENERATOR_AT", "rss_feed", "stable_check", "version_check", "wordpress_front_page"]

#: The generator meta comes after the inline global styles, past this byte (as on the real site).
GENERATOR_AT = 17_000


def _global_styles() -> str:
    """The inline ``global-styles`` CSS WordPress 6.1 prints (about 15 KB of preset variables)."""
    colors = ["black", "cyan-bluish-gray", "white", "pale-pink", "vivid-red", "luminous-vivid-orange",
              "luminous-vivid-amber", "light-green-cyan", "vivid-green-cyan", "pale-cyan-blue",
              "vivid-cyan-blue", "vivid-purple"]  # fmt: skip
    parts = ["body{"]
    parts += [f"--wp--preset--color--{c}: #{i * 1234567 % 0xFFFFFF:06x};" for i, c in enumerate(colors)]
    parts += [
        f"--wp--preset--gradient--g{i}: linear-gradient(135deg,rgba(6,147,227,1) 0%,rgb(155,81,224) 100%);"
        for i in range(12)
    ]
    parts += [f"--wp--preset--duotone--d{i}: url('#wp-duotone-d{i}');" for i in range(8)]
    parts += ["}"]
    for c in colors:
        parts += [
            f".has-{c}-color{{color: var(--wp--preset--color--{c}) !important;}}",
            f".has-{c}-background-color{{background-color: var(--wp--preset--color--{c}) !important;}}",
            f".has-{c}-border-color{{border-color: var(--wp--preset--color--{c}) !important;}}",
        ]
    for i in range(12):
        parts.append(f".has-g{i}-gradient-background{{background: var(--wp--preset--gradient--g{i}) !important;}}")
    for size in ("small", "medium", "large", "x-large"):
        parts.append(f".has-{size}-font-size{{font-size: var(--wp--preset--font-size--{size}) !important;}}")
    css = "\n".join(parts)
    while len(css) < 16_200:
        css += "\n.wp-block-navigation a:where(:not(.wp-element-button)){color: inherit;}"
    return css


def wordpress_front_page(
    base: str, version: str = "6.1.9", *, generator: bool = True, feed_links: bool = True, extra_head: str = ""
) -> bytes:
    """A ~28 KB front page of WordPress ``version`` at ``base`` (no trailing slash), plain permalinks.

    Core assets carry ``ver=<version>``; the classic-themes stylesheet carries its own
    ``ver=1`` (a decoy); the generator meta sits past :data:`GENERATOR_AT`.
    """
    head = [
        "<!DOCTYPE html>",
        '<html lang="en-US">',
        "<head>",
        '<meta charset="UTF-8" />',
        '<meta name="viewport" content="width=device-width, initial-scale=1" />',
        "<title>Debian WordPress &#8211; Just another WordPress site</title>",
        "<meta name='robots' content='max-image-preview:large' />",
    ]
    if feed_links:
        head += [
            f'<link rel="alternate" type="application/rss+xml" title="Debian WordPress &raquo; Feed"'
            f' href="{base}/?feed=rss2" />',
            f'<link rel="alternate" type="application/rss+xml" title="Debian WordPress &raquo; Comments Feed"'
            f' href="{base}/?feed=comments-rss2" />',
        ]
    head += [
        f"<link rel='stylesheet' id='wp-block-library-css' href='{base}/wp-includes/css/dist/block-library/"
        f"style.min.css?ver={version}' media='all' />",
        f"<link rel='stylesheet' id='classic-theme-styles-css' href='{base}/wp-includes/css/classic-themes.min.css"
        "?ver=1' media='all' />",
        f"<style id='global-styles-inline-css'>\n{_global_styles()}\n</style>",
        f"<link rel='stylesheet' id='twentytwentyone-style-css' href='{base}/wp-content/themes/twentytwentyone/"
        "style.css?ver=1.7' media='all' />",
        f"<script src='{base}/wp-includes/js/jquery/jquery.min.js?ver=3.6.1' id='jquery-core-js'></script>",
        f'<link rel="https://api.w.org/" href="{base}/index.php?rest_route=/" />',
        f'<link rel="EditURI" type="application/rsd+xml" title="RSD" href="{base}/xmlrpc.php?rsd" />',
        f'<link rel="wlwmanifest" type="application/wlwmanifest+xml" href="{base}/wp-includes/wlwmanifest.xml" />',
        extra_head,
    ]
    if generator:
        head.append(f'<meta name="generator" content="WordPress {version}" />')
    head.append("</head>")
    posts = []
    for n in range(1, 13):
        posts.append(
            f'<article id="post-{n}" class="post-{n} post type-post status-publish format-standard hentry">'
            f'<header class="entry-header"><h2 class="entry-title"><a href="{base}/?p={n}">Post number {n}</a></h2>'
            '</header><div class="entry-content"><p>Welcome to WordPress. This is one of the posts on the front'
            " page; edit or delete it, then start writing. It is long enough to look like a real excerpt of a"
            " real post, with a second sentence and a third one as well.</p></div>"
            f'<footer class="entry-footer"><span class="posted-on">Published <time datetime="2026-11-{n:02d}">'
            f"November {n}, 2026</time></span></footer></article>"
        )
    body = ['<body class="home blog wp-embed-responsive">', '<div id="page" class="site">', *posts]
    page = "\n".join(head + body)
    while len(page) < 28_000:
        page += "\n<!-- .site-main -->"
    page += "\n</div></body></html>\n"
    return page.encode()


def version_check(latest: str = "6.7.1", branches: int = 24) -> bytes:
    """A version-check 1.7 answer of real size (~14 KB): the upgrade offer, then autoupdate offers per branch."""
    offers = []

    def offer(response: str, version: str) -> dict[str, object]:
        zip_base = f"https://downloads.wordpress.org/release/wordpress-{version}"
        return {
            "response": response,
            "download": f"{zip_base}.zip",
            "locale": "en_US",
            "packages": {
                "full": f"{zip_base}.zip",
                "no_content": f"{zip_base}-no-content.zip",
                "new_bundled": f"{zip_base}-new-bundled.zip",
                "partial": False,
                "rollback": False,
            },
            "current": version,
            "version": version,
            "php_version": "7.2.24",
            "mysql_version": "5.5.5",
            "new_bundled": "6.7",
            "partial_version": False,
        }

    offers.append(offer("upgrade", latest))
    major, minor = (int(x) for x in latest.split(".")[:2])
    for i in range(branches):
        line = major * 10 + minor - i
        offers.append(offer("autoupdate", f"{line // 10}.{line % 10}.{i % 9 + 1}"))
    return json.dumps({"offers": offers, "translations": []}).encode()


def stable_check(insecure: str = "6.1.9", latest: str = "6.7.1") -> bytes:
    """A stable-check 1.0 answer of real size (~14 KB): every release since 0.71 mapped to its state."""
    doc: dict[str, str] = {}
    for major in range(0, 7):
        for minor in range(10):
            for patch in range(0, 10):
                text = f"{major}.{minor}" if patch == 0 else f"{major}.{minor}.{patch}"
                doc[text] = "insecure"
    doc[insecure] = "insecure"
    doc["6.6.2"] = "outdated"
    doc[latest] = "latest"
    return json.dumps(doc).encode()


def rss_feed(version: str = "6.1.9", items: int = 10) -> bytes:
    """The RSS 2.0 feed WordPress serves at ``/?feed=rss2`` (plain permalinks), generator included."""
    entries = "".join(
        f"<item><title>Post number {n}</title><link>http://x/?p={n}</link><pubDate>Mon, 0{n % 9 + 1} Nov 2026"
        f" 10:00:00 +0000</pubDate><description><![CDATA[Welcome to WordPress, post {n}.]]></description></item>\n"
        for n in range(1, items + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/'
        'content/"><channel><title>Debian WordPress</title><link>http://x</link><description>Just another'
        " WordPress site</description><lastBuildDate>Mon, 07 Dec 2026 10:00:00 +0000</lastBuildDate>"
        f"<language>en-US</language><generator>https://wordpress.org/?v={version}</generator>\n{entries}"
        "</channel></rss>\n"
    ).encode()
