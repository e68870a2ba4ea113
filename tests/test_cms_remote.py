"""Remote fingerprints served by a real loopback site: scoring, decoys and hardened sites."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from aiohttp import web

from sitewatch.probe import Status
from tests.helpers import run_check, serve

NO_SOURCES = {"wordpress_latest": None, "wordpress_insecure": None, "magento_latest": None}

WP_HOME = """<!DOCTYPE html><html><head>
<meta name="generator" content="WordPress 6.4.2" />
<script>window._wpemojiSettings = {"baseUrl":"https:\\/\\/s.w.org\\/images\\/core\\/emoji\\/14.0.0\\/72x72\\/",
"source":{"concatemoji":"http:\\/\\/shop.test\\/wp-includes\\/js\\/wp-emoji-release.min.js?ver=6.4.2"}};</script>
<link rel='stylesheet' href='/wp-includes/css/dist/block-library/style.min.css?ver=6.4.2' />
<script src='/wp-includes/js/jquery/jquery.min.js?ver=3.7.1'></script>
<script src='/wp-includes/js/jquery/jquery-migrate.min.js?ver=3.4.1'></script>
<script src='/wp-content/plugins/woocommerce/assets/js/frontend/cart.min.js?ver=8.4.0'></script>
<script src='/wp-content/plugins/woocommerce/assets/js/frontend/woo.min.js?ver=8.4.0'></script>
<script src='/wp-content/plugins/contact-form-7/includes/js/index.js?ver=5.8.4'></script>
</head><body>shop</body></html>"""

RSS = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Shop</title>
<generator>https://wordpress.org/?v={version}</generator></channel></rss>"""

ATOM = """<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<generator uri="https://wordpress.org/" version="{version}">WordPress</generator></feed>"""


def site(pages: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> web.Application:
    """A site serving ``pages`` (path -> body or (status, body, content_type)); anything else is 404."""

    async def handler(request: web.Request) -> web.Response:
        page = pages.get(request.path)
        if page is None:
            return web.Response(status=404, text="not found")
        status, body, ctype = page if isinstance(page, tuple) else (200, page, "text/html")
        resp = web.Response(status=status, text=body, content_type=ctype)
        if request.path == "/":
            for name, value in (headers or {}).items():
                resp.headers.add(name, value)
        return resp

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    return app


async def probe(pages: Mapping[str, Any], headers: Mapping[str, str] | None = None, **settings: Any) -> Any:
    """Run the cms check, remote only, against a loopback site."""
    async with serve(site(pages, headers)) as base:
        record = await run_check("cms", {"sources": NO_SOURCES, **settings}, url=base + "/")
    return record.result


async def test_wordpress_meta_assets_and_emoji_agree() -> None:
    """Meta (60) + core assets (40 each) name 6.4.2; jQuery's and plugins' ver= are ignored."""
    result = await probe({"/": WP_HOME})
    assert result.status is Status.OK
    assert result.summary == "WordPress 6.4.2"
    remote = result.details["remote"]
    assert remote["scores"] == {"6.4.2": 60 + 40 + 40}
    assert "3.7.1" not in remote["scores"]
    assert "8.4.0" not in remote["scores"]


@pytest.mark.parametrize("feed", [RSS, ATOM])
async def test_feed_outweighs_meta(feed: str) -> None:
    """A feed generator (80) beats a lone meta generator (60) naming another version (RSS and Atom)."""
    home = '<html><head><meta content="WordPress 6.3.2" name="generator"></head></html>'
    result = await probe({"/": home, "/feed/": (200, feed.format(version="6.4.2"), "application/rss+xml")})
    assert result.details["version"] == "6.4.2"
    assert result.details["remote"]["scores"] == {"6.4.2": 80, "6.3.2": 60}


async def test_same_version_findings_add_up() -> None:
    """Meta (60) + one asset (40) for 6.3.2 beat the feed (80) for 6.4.2."""
    home = (
        '<meta name="generator" content="WordPress 6.3.2">'
        '<link href="/wp-includes/css/dashicons.min.css?ver=6.3.2" rel="stylesheet">'
    )
    result = await probe({"/": home, "/feed/": (200, RSS.format(version="6.4.2"), "application/rss+xml")})
    assert result.details["version"] == "6.3.2"


async def test_tie_gives_no_answer() -> None:
    """Feed 6.4.2 (80) against two core assets at 6.3.2 (80): no version, WordPress still detected."""
    home = (
        "<link href='/wp-includes/css/dashicons.min.css?ver=6.3.2'>"
        "<link href='/wp-includes/css/admin-bar.min.css?foo=1&#038;ver=6.3.2'>"
    )
    result = await probe({"/": home, "/feed/": (200, RSS.format(version="6.4.2"), "application/rss+xml")})
    assert result.status is Status.OK
    assert result.summary == "WordPress, version unknown"
    assert result.details["remote"]["scores"] == {"6.4.2": 80, "6.3.2": 80}


async def test_hardened_wordpress_is_version_unknown_not_error() -> None:
    """A hardened WordPress (no generator, no ver=, feed off) is 'WordPress, version unknown', ok."""
    home = "<html><link rel='stylesheet' href='/wp-content/themes/shop/style.css'></html>"
    result = await probe({"/": home}, {"Link": '<http://shop.test/wp-json/>; rel="https://api.w.org/"'})
    assert result.status is Status.OK
    assert result.summary == "WordPress, version unknown"
    assert any(s.name == "sitewatch_cms_info" and ("version", "unknown") in s.labels for s in result.samples)


async def test_plugin_ver_alone_is_not_a_core_version() -> None:
    """Only plugin assets with ver=: WordPress without a version, never the plugin's version."""
    home = "<script src='/wp-content/plugins/elementor/assets/js/frontend.min.js?ver=3.18.3'></script>"
    result = await probe({"/": home})
    assert result.details["version"] is None
    assert result.details["cms"] == "wordpress"


async def test_bitrix_presence_signals() -> None:
    """Bitrix headers, cookie and own /bitrix/ assets prove Bitrix; no version is claimed remotely."""
    headers = {
        "X-Powered-CMS": "Bitrix Site Manager (b0c6f3c1d2e8a4b5)",
        "Set-Cookie": "BITRIX_SM_GUEST_ID=123; path=/",
        "X-Bitrix-Composite": "Cache (200)",
    }
    home = '<link href="/bitrix/templates/shop/styles.css?17000" rel="stylesheet">'
    result = await probe({"/": home}, headers)
    assert result.summary == "1C-Bitrix, version unknown"
    assert result.details["remote"]["signals"] == [
        "X-Powered-CMS",
        "X-Bitrix-Composite",
        "BITRIX_SM_ cookie",
        "/bitrix/ assets",
    ]


async def test_bitrix24_widget_on_another_site_is_not_bitrix() -> None:
    """A Bitrix24 chat widget loaded from the Bitrix24 CDN does not make a site Bitrix."""
    home = """<html><body>plain shop
<script src="https://cdn-ru.bitrix24.ru/b1234567/crm/site_button/loader_2_abcdef.js"></script>
<script>(function(w,d,u){var s=d.createElement('script');s.src=u+'?'+(Date.now()/60000|0);})
(window,document,'https://cdn-ru.bitrix24.ru/b1234567/crm/site_button/loader_2_abcdef.js');</script>
<a href="https://b24-abc.bitrix24.ru/bitrix/tools/form.php">contact</a></body></html>"""
    result = await probe({"/": home})
    assert result.status is Status.WARNING
    assert result.summary == "no WordPress, 1C-Bitrix or Magento found on the site"


async def test_magento2_line_from_magento_version_not_the_deploy_stamp() -> None:
    """/magento_version gives the release line; static/version<timestamp> is presence, not a version."""
    home = """<html><head>
<link rel="stylesheet" href="/static/version1700000000/frontend/Magento/luma/en_US/css/styles-m.css">
<script type="text/x-magento-init">{"*": {"Magento_Ui/js/core/app": {}}}</script></head></html>"""
    result = await probe({"/": home, "/magento_version": (200, "Magento/2.4 (Community)", "text/plain")})
    assert result.status is Status.OK
    assert result.summary == "Magento 2.4.x"
    assert result.details["remote"]["signals"] == ["/magento_version", "x-magento-init", "static deploy stamp"]
    assert "1700000000" not in str(result.details)


async def test_magento2_without_magento_version() -> None:
    """With /magento_version disabled, init scripts still prove Magento 2, version unknown."""
    home = '<script type="text/x-magento-init">{"*": {}}</script>'
    result = await probe({"/": home}, cms="magento")
    assert result.summary == "Magento, version unknown"


async def test_hardened_site_without_signals() -> None:
    """No fingerprints at all: measured, nothing found, a warning (not an error)."""
    result = await probe({"/": "<html><body>Welcome</body></html>"}, cms="wordpress")
    assert result.status is Status.WARNING
    assert result.summary == "no WordPress found on the site"


async def test_unreachable_site_without_root_is_an_error() -> None:
    """Remote only and the site refuses connections: could not measure."""
    async with serve(web.Application()) as base:
        dead = base
    record = await run_check("cms", {"sources": NO_SOURCES}, url=dead + "/")
    assert record.result.status is Status.ERROR
    assert record.result.summary.startswith("cannot fingerprint the site: cannot connect to 127.0.0.1")
