"""The cms check end to end: Bitrix module rules, Magento 1 end of life, offline rules, cross-checks, config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest
from aiohttp import web

from checks.cms.check import CmsCheck
from checks.cms.config import CmsConfig
from sitewatch.probe import Result, Status
from tests.helpers import make_spec, run_check, serve
from tests.test_cms_local import MAGE_19, OPENMAGE, bitrix_tree, wordpress_classic, write
from tests.test_cms_sources import run_cms

OFF = {"wordpress_latest": None, "wordpress_insecure": None, "magento_latest": None}


async def local(root: Path, **settings: Any) -> Result:
    """Run the check on local files only, with no sources."""
    record = await run_check("cms", {"root": str(root), "remote": False, "sources": OFF, **settings})
    return record.result


async def test_bitrix_vulnerable_vote_module_is_critical(tmp_path: Path) -> None:
    """The shipped rule for the vote module makes 21.0.99 critical and names the CVE."""
    root = bitrix_tree(tmp_path, "23.850.0", {"vote": ("array", "21.0.99")})
    result = await local(root)
    assert result.status is Status.CRITICAL
    assert result.summary == (
        "1C-Bitrix 23.850.0 is insecure "
        "(module vote 21.0.99 < 21.0.100 (CVE-2022-27228: unauthenticated RCE via the vote module)); "
        "1 of 1 modules vulnerable: vote 21.0.99: CVE-2022-27228 (CVSS 9.8, exploited), fixed in 21.0.100"
    )
    assert ("sitewatch_cms_insecure", 1.0) in [(s.name, s.value) for s in result.samples]


async def test_bitrix_override_fixes_and_ops_rules_extend(tmp_path: Path) -> None:
    """A fixed vote in local/modules is ok; an ops rules file adds a minimum for another module."""
    root = bitrix_tree(tmp_path / "s", "23.850.0", {"vote": ("short", "21.0.99")}, local={"vote": "21.0.100"})
    fine = await local(root)
    assert (fine.status, fine.summary) == (
        Status.OK,
        "1C-Bitrix 23.850.0 (no module below its minimum safe version); no known vulnerable modules (1 checked)",
    )
    rules = write(tmp_path / "ops.yaml", 'modules:\n  main:\n    min_version: "24.0.0"\n    note: "ops policy"\n')
    strict = await local(root, bitrix_modules_file=str(rules))
    assert strict.status is Status.CRITICAL
    assert "module main 23.850.0 < 24.0.0 (ops policy)" in strict.summary


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("modules:\n  vote:\n    min_version: 21.0\n", "modules.vote: expected min_version: '<version in quotes>'"),
        ("- vote\n", "expected a mapping with modules:"),
        ("modules: [", "not valid YAML"),
    ],
)
def test_bad_ops_rules_file_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    """A broken rules file fails at config load and says what is wrong, not at 3 a.m."""
    path = write(tmp_path / "rules.yaml", text)
    with pytest.raises(pydantic.ValidationError, match=message.replace("[", r"\[").replace(".", r"\.")):
        CmsConfig.model_validate({"bitrix_modules_file": str(path)})


async def test_magento1_is_end_of_life_but_openmage_is_not(tmp_path: Path) -> None:
    """Magento 1 is critical (or a warning with eol_status: warning); OpenMage is judged normally."""
    write(tmp_path / "m1" / "app" / "Mage.php", MAGE_19)
    write(tmp_path / "om" / "app" / "Mage.php", OPENMAGE)
    m1 = await local(tmp_path / "m1")
    assert (m1.status, m1.summary) == (Status.CRITICAL, "Magento 1.9.4.5 is end of life since 2020-06-30")
    soft = await local(tmp_path / "m1", eol_status="warning")
    assert soft.status is Status.WARNING
    om = await local(tmp_path / "om", min_version="20.0.0")
    assert (om.status, om.summary) == (Status.OK, "OpenMage 20.1.0")


@pytest.mark.parametrize(
    ("installed", "rules", "status"),
    [
        ("6.1.1", {"min_version": "6.2"}, Status.CRITICAL),
        ("6.2.0", {"min_version": "6.2"}, Status.OK),
    ],
)
async def test_min_version_works_offline(tmp_path: Path, installed: str, rules: dict[str, str], status: Status) -> None:
    """min_version needs no source: below it is critical."""
    result = await local(wordpress_classic(tmp_path, installed), **rules)
    assert result.status is status


async def test_max_minor_behind_uses_the_latest_release(tmp_path: Path) -> None:
    """With a latest release known, more minors behind than allowed is a warning with the count."""
    async with serve(_json_app({"offers": [{"version": "6.4.2"}]})) as base:
        sources = {**OFF, "wordpress_latest": base + "/"}
        settings = {"sources": sources, "max_minor_behind": 2, "cache_dir": str(tmp_path / "c")}
        result = await local(wordpress_classic(tmp_path / "a", "6.1.1"), **settings)
    assert result.status is Status.WARNING
    assert "3 minor releases behind 6.4.2 (max_minor_behind 2)" in result.summary


def _json_app(doc: Any) -> web.Application:
    async def handler(_: web.Request) -> web.Response:
        return web.json_response(doc)

    app = web.Application()
    app.router.add_get("/", handler)
    return app


async def test_local_and_remote_versions_disagree(tmp_path: Path) -> None:
    """Local files win; a different version on the site is reported (stale cache or wrong root)."""
    root = wordpress_classic(tmp_path, "6.4.2")
    app = web.Application()

    async def home(_: web.Request) -> web.Response:
        return web.Response(text='<meta name="generator" content="WordPress 6.3.2">', content_type="text/html")

    app.router.add_get("/", home)
    async with serve(app) as base:
        record = await run_check("cms", {"root": str(root), "sources": OFF}, url=base + "/")
    result = record.result
    assert result.details["version"] == "6.4.2"
    assert (
        result.summary == "WordPress 6.4.2; the site reports 6.3.2 but 6.4.2 is installed (stale cache or wrong root?)"
    )
    infos = {
        dict(s.labels)["source"]: dict(s.labels)["version"] for s in result.samples if s.name == "sitewatch_cms_info"
    }
    assert infos == {"local": "6.4.2", "remote": "6.3.2"}


async def test_wrong_root_is_reported(tmp_path: Path) -> None:
    """A Bitrix install under root while the site is WordPress: the mismatch is named."""
    root = bitrix_tree(tmp_path)
    app = web.Application()

    async def home(_: web.Request) -> web.Response:
        return web.Response(text="<link href='/wp-content/themes/x/style.css'>", content_type="text/html")

    app.router.add_get("/", home)
    async with serve(app) as base:
        record = await run_check("cms", {"root": str(root), "sources": OFF}, url=base + "/")
    assert "looks like WordPress but 1C-Bitrix is installed under root" in record.result.details["mismatch"]


async def test_every_sample_is_declared(tmp_path: Path) -> None:
    """All emitted sample names and label names match the check's metrics table."""
    declared = {m.name: m.labels for m in CmsCheck.metrics}
    result = await local(wordpress_classic(tmp_path, "6.1.1"), min_version="6.2")
    assert result.samples
    for sample in result.samples:
        assert tuple(k for k, _ in sample.labels) == declared[sample.name]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"min_version": 6.4}, "expected a version in quotes"),
        ({"min_version": "latest"}, "expected a version like"),
        ({"root": "var/www"}, "expected an absolute path"),
        ({"cms": "joomla"}, "Input should be 'auto', 'wordpress', 'bitrix' or 'magento'"),
        ({"sources": {"wordpress_latest": "ftp://x"}}, "expected an http"),
        ({"refresh": 12}, "add a unit"),
        ({"rootdir": "/srv"}, "Extra inputs are not permitted"),
    ],
)
def test_config_errors(settings: dict[str, Any], message: str) -> None:
    """Bad settings fail at config load with a message that says what was expected."""
    with pytest.raises(pydantic.ValidationError, match=message):
        make_spec("cms", settings)


async def test_nothing_under_root_but_found_on_the_site(tmp_path: Path) -> None:
    """Remote detection still answers when root is empty, and the summary flags the root."""
    app = web.Application()

    async def home(_: web.Request) -> web.Response:
        return web.Response(text='<meta name="generator" content="WordPress 6.4.2">', content_type="text/html")

    app.router.add_get("/", home)
    async with serve(app) as base:
        record = await run_check("cms", {"root": str(tmp_path), "sources": OFF}, url=base + "/")
    assert record.result.summary == f"WordPress 6.4.2; no install found under {tmp_path} (wrong root?)"


async def test_ops_rules_file_broken_after_load_is_a_warning(tmp_path: Path) -> None:
    """A rules file that breaks after config load gives a warning that names it, not a crash."""
    root = bitrix_tree(tmp_path / "s")
    rules = write(tmp_path / "ops.yaml", 'modules:\n  main:\n    min_version: "1.0.0"\n')
    config = CmsConfig.model_validate(
        {"root": str(root), "remote": False, "sources": OFF, "bitrix_modules_file": str(rules)}
    )
    rules.write_text("modules: [")
    result = await run_cms(config)
    assert result.status is Status.WARNING
    assert "bitrix_modules_file unusable" in result.summary
    assert "not valid YAML" in result.summary


async def test_remote_false_sends_no_request(tmp_path: Path) -> None:
    """With remote: false the site is never requested; the answer comes from files alone."""
    hits: list[str] = []

    async def home(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="<meta name='generator' content='WordPress 6.3.2'>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", home)
    root = wordpress_classic(tmp_path, "6.4.2")
    async with serve(app) as base:
        record = await run_check("cms", {"root": str(root), "remote": False, "sources": OFF}, url=base + "/")
    assert hits == []
    assert record.result.summary == "WordPress 6.4.2"
    assert "remote" not in record.result.details
