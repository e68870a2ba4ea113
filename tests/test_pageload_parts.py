"""The pageload check's HTML scan and settings, without a network."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
import yarl

from checks.pageload_assets import find_assets, plan_assets
from checks.pageload_config import PageloadConfig, host_allowed
from tests.helpers import make_spec

PAGE = yarl.URL("https://shop.example/catalog/item.html")


def test_find_assets_resolves_dedupes_and_skips_what_costs_no_request() -> None:
    """Relative references resolve against <base>; data:, javascript:, duplicates and feeds are skipped."""
    html = """
    <html><head><base href="/static/">
    <link rel="stylesheet" href="a.css"><link rel="Stylesheet preload" href="a.css#x">
    <link rel="alternate" type="application/rss+xml" href="/feed">
    <link rel="shortcut icon" href="//cdn.example/fav.ico">
    <link rel="modulepreload" href="/m.js"><link rel="canonical" href="/c">
    <script src="app.js?v=1"></script><script>inline()</script>
    <script src="javascript:void(0)"></script>
    </head><body><img src="data:image/png;base64,AA"><img src=" img/x.png "><IMG SRC="img/x.png"/>
    <img alt="no source"><p>unclosed <div>
    """
    found = [(a.kind, str(a.url)) for a in find_assets(html, PAGE)]
    assert found == [
        ("stylesheet", "https://shop.example/static/a.css"),
        ("icon", "https://cdn.example/fav.ico"),
        ("script", "https://shop.example/m.js"),
        ("script", "https://shop.example/static/app.js?v=1"),
        ("image", "https://shop.example/static/img/x.png"),
    ]


def test_plan_keeps_same_origin_and_allowed_hosts_up_to_the_limit() -> None:
    """Another scheme, port or host is cross-origin unless allow_hosts names it; max_assets caps the rest."""
    html = "".join(
        f'<img src="{src}">'
        for src in (
            "/1.png",
            "http://shop.example/2.png",
            "https://shop.example:8443/3.png",
            "https://img.cdn.example/4.png",
            "https://evil.example/5.png",
            "/6.png",
            "/7.png",
        )
    )
    plan = plan_assets(find_assets(html, PAGE), PAGE, ("*.cdn.example",), limit=3)
    assert [a.url.path for a in plan.fetch] == ["/1.png", "/4.png", "/6.png"]
    assert sorted(a.url.path for a in plan.cross_origin) == ["/2.png", "/3.png", "/5.png"]
    assert plan.over_limit == 1


@pytest.mark.parametrize(
    ("host", "patterns", "allowed"),
    [
        ("cdn.example", ("cdn.example",), True),
        ("CDN.example.", ("cdn.example",), True),
        ("a.cdn.example", ("*.cdn.example",), True),
        ("cdn.example", ("*.cdn.example",), False),
        ("evilcdn.example", ("*.cdn.example",), False),
        ("other.example", ("cdn.example",), False),
    ],
)
def test_host_allowed(host: str, patterns: tuple[str, ...], allowed: bool) -> None:
    """Exact names match themselves; *.name matches subdomains only."""
    assert host_allowed(host, patterns) is allowed


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"warn": "5s", "crit": "2s"}, "warn must not be greater than crit"),
        ({"ttfb_warn": "2s", "ttfb_crit": "1s"}, "ttfb_warn must not be greater than ttfb_crit"),
        ({"allow_hosts": ["cdn.example"]}, "allow_hosts only apply with full: true"),
        ({"full": True, "allow_hosts": ["https://cdn.example/"]}, "expected a host name"),
        ({"warn": 3}, "add a unit"),
        ({"samples": 0}, "greater than or equal to 1"),
        ({"full": True, "failed_assets": "ignore"}, "'warning' or 'critical'"),
        ({"full": True, "concurency": 2}, "Extra inputs are not permitted"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(settings: dict[str, Any], message: str) -> None:
    """Inconsistent or mistyped settings fail at config load, saying what was wrong."""
    with pytest.raises(pydantic.ValidationError, match=message):
        PageloadConfig.model_validate(settings)


def test_url_setting_is_relative_to_the_site() -> None:
    """url: /path loads that page of the site; the scheduler's per-host limit uses its host."""
    spec = make_spec("pageload", {"url": "/catalog/?utm=1"}, url="https://shop.example/")
    check = spec.build()
    assert str(check.start_url) == "https://shop.example/catalog/?utm=1"
    assert check.target_host == "shop.example"
