"""`sitewatch add-site`: probing real loopback sites (plain, redirected to TLS, WordPress) and the file it writes."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from asyncio.subprocess import PIPE
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from aiohttp import web

from sitewatch.cli.add_site import AddSite, add_site_command, default_name
from sitewatch.cli.main import main
from sitewatch.cli.onboard_discovery import OnboardError, backup_thresholds, pageload_thresholds, site_url
from sitewatch.config.loader import load_config
from sitewatch.net.httpclient import ProbeResolver
from sitewatch.probe import Status
from tests.helpers import run_check, serve

WP_HOME = """<!DOCTYPE html><html><head>
<meta name="generator" content="WordPress 6.4.2" />
<link rel='stylesheet' href='/wp-includes/css/dist/block-library/style.min.css?ver=6.4.2' />
</head><body>shop</body></html>"""
HOSTS = {"shop.test": ["127.0.0.1"]}


def wordpress() -> web.Application:
    """A fake WordPress: a home page with its fingerprints, 404 elsewhere."""

    async def home(_: web.Request) -> web.Response:
        return web.Response(text=WP_HOME, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", home)
    return app


def redirect_to(location: str) -> web.Application:
    """A plain-http site that sends everything to ``location`` (the usual http → https setup)."""

    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(location)

    app = web.Application()
    app.router.add_get("/{tail:.*}", moved)
    return app


def main_config(tmp_path: Path, *, include: bool = True) -> Path:
    path = tmp_path / "config.yaml"
    text = f"agent:\n  state_dir: {tmp_path / 'state'}\n  listen: 127.0.0.1:9979\n"
    path.write_text(text + ("include:\n  - sites.d/*.yaml\n" if include else ""), encoding="utf-8")
    return path


async def add_site(
    args: AddSite, hosts: Mapping[str, Sequence[str]] | None = None, capsys: Any = None
) -> tuple[int, str, str]:
    """Run the command (it owns an event loop) in a thread, like a user at a shell."""
    resolver = ProbeResolver(static=hosts or {}, fallback=None)
    code = await asyncio.to_thread(add_site_command, args, resolver=resolver)
    out, err = capsys.readouterr() if capsys is not None else ("", "")
    return code, out, err


async def test_dry_run_detects_wordpress_and_writes_nothing(tmp_path: Path, capsys: Any) -> None:
    """A plain-http WordPress: http, pageload and cms checks printed, commented; no tls; no file."""
    config = main_config(tmp_path)
    async with serve(wordpress()) as base:
        code, out, err = await add_site(AddSite(f"{base}/", config, name="shop", dry_run=True), capsys=capsys)
    assert code == 0, err
    site = yaml.safe_load(out)
    assert site["name"] == "shop"
    assert site["url"] == f"{base}/"
    checks = {c["type"]: c for c in site["checks"]}
    assert set(checks) == {"http", "pageload", "cms"}
    assert checks["cms"]["cms"] == "wordpress"
    assert checks["pageload"]["warn"] == "1s"  # a loopback page is fast: the 1 s floor
    assert checks["pageload"]["crit"] == "2s"
    assert "# CMS core: WordPress 6.4.2 detected from the site's pages." in out
    assert "warn = max(1s, 3 x that median)" in out
    assert "fetching" in err
    assert "detecting the CMS" in err
    assert not (tmp_path / "sites.d").exists()


async def test_http_redirect_to_untrusted_https(tmp_path: Path, capsys: Any, ca: trustme.CA, server_ssl: Any) -> None:
    """http → https redirect is followed to the canonical URL; an internal CA is used by the tls check;
    a named host gets a domain check, whose lookup result (here: .test has no registry) is its comment."""
    config = main_config(tmp_path)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    async with serve(wordpress(), ssl_context=server_ssl) as secure:
        canonical = f"https://shop.test:{secure.rsplit(':', 1)[1]}/"
        async with serve(redirect_to(canonical)) as plain:
            args = AddSite(f"{plain}/", config, name="shop", ca_file=str(ca_file))
            code, out, err = await add_site(args, HOSTS, capsys)
    assert code == 0, err
    written = tmp_path / "sites.d" / "shop.yaml"
    text = written.read_text(encoding="utf-8")
    site = yaml.safe_load(text)
    assert site["url"] == canonical
    checks = {c["type"]: c for c in site["checks"]}
    # The cms check's own fetch always verifies: without --root it cannot see an untrusted site.
    assert set(checks) == {"http", "pageload", "tls", "domain"}
    assert checks["domain"] == {"type": "domain", "warn_days": 30, "crit_days": 7}
    assert "# Registration of the site's domain: shop.test: no RDAP service for .test" in text
    assert "  # - type: cms" in text
    assert checks["tls"] == {"type": "tls", "warn_days": 21, "crit_days": 7, "ca_file": str(ca_file)}
    assert checks["http"]["verify_tls"] is False
    assert "followed 1 redirect to https://shop.test" in text
    assert "three weeks" in text  # thresholds carry their reasons
    assert "OK (1 sites; shop: 4 checks)" in out
    assert load_config(config).sites[0].info.url.host == "shop.test"


async def test_written_file_backups_heartbeat_force(tmp_path: Path, capsys: Any) -> None:
    """--backups and --heartbeat add their checks; the token is printed once and kept 0600; --force replaces."""
    config = main_config(tmp_path)
    dumps = tmp_path / "backups"
    dumps.mkdir()
    (dumps / "shop-2026-11-26.tar.gz").write_bytes(b"x" * 4096)
    args = AddSite("", config, name="shop", backups=f"{dumps}/*.tar.gz", heartbeat=True)
    async with serve(wordpress()) as base:
        args = AddSite(**{**args.__dict__, "url": base})
        code, out, err = await add_site(args, capsys=capsys)
        assert code == 0, err
        token_file = tmp_path / "sites.d" / "shop.heartbeat-token"
        token = token_file.read_text(encoding="utf-8")
        assert len(token) >= 40
        assert err.count(token) == 2  # the token line and the curl line, this once only
        assert "http://127.0.0.1:9979/ping/" in err
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        site = yaml.safe_load((tmp_path / "sites.d" / "shop.yaml").read_text(encoding="utf-8"))
        checks = {c["type"]: c for c in site["checks"]}
        assert checks["backup"]["path"] == f"{dumps}/*.tar.gz"
        assert checks["heartbeat"]["token"] == "${file:shop.heartbeat-token}"
        assert token not in (tmp_path / "sites.d" / "shop.yaml").read_text(encoding="utf-8")
        loaded = load_config(config)
        assert {c.type for c in loaded.checks} == {"http", "pageload", "cms", "backup", "heartbeat"}

        code, _, err = await add_site(args, capsys=capsys)
        assert code == 1
        assert "exists; pass --force" in err
        code, _, err = await add_site(AddSite(**{**args.__dict__, "force": True, "heartbeat": False}), capsys=capsys)
        assert code == 0, err
    assert "heartbeat" not in (tmp_path / "sites.d" / "shop.yaml").read_text(encoding="utf-8")


async def test_config_without_include_is_reported(tmp_path: Path, capsys: Any) -> None:
    """The file is written, but a config that does not include sites.d/*.yaml is named with the fix."""
    config = main_config(tmp_path, include=False)
    async with serve(wordpress()) as base:
        code, _, err = await add_site(AddSite(base, config, name="shop"), capsys=capsys)
    assert code == 1
    assert "does not include shop.yaml" in err
    assert "- sites.d/*.yaml" in err


async def test_name_clash_and_dead_site_write_nothing(tmp_path: Path, capsys: Any) -> None:
    """A name already in the config is refused before probing; a site that does not answer says so."""
    config = main_config(tmp_path)
    config.write_text(config.read_text() + "sites:\n  - name: shop\n    url: http://shop.example/\n")
    code, _, err = await add_site(AddSite("http://127.0.0.1:9/", config, name="shop"), capsys=capsys)
    assert code == 1
    assert "already configured" in err
    code, _, err = await add_site(AddSite("http://127.0.0.1:9/", config, name="other"), capsys=capsys)
    assert code == 3
    assert "does not work at http://127.0.0.1:9/" in err
    assert "run add-site again" in err
    assert not (tmp_path / "sites.d").exists()


def test_cli_arguments_reach_the_command(tmp_path: Path, capsys: Any) -> None:
    """Bad input through the real CLI parser: a URL that is not one, a missing config."""
    assert main(["add-site", "ftp://x", "-c", str(tmp_path / "config.yaml"), "--dry-run"]) == 3
    assert "expected a site URL" in capsys.readouterr().err
    assert main(["add-site", "https://shop.example/", "-c", str(tmp_path / "none.yaml")]) == 1
    assert "no config at" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("median", "expected"),
    [(None, (1.0, 2.0)), (0.05, (1.0, 2.0)), (0.4, (1.2, 2.4)), (1.0, (3.0, 6.0)), (2.34, (7.1, 14.2))],
)
def test_pageload_thresholds(median: float | None, expected: tuple[float, float]) -> None:
    """warn = max(1 s, 3 × median) rounded up to 100 ms; crit = 2 × warn."""
    assert pageload_thresholds(median) == expected


def test_names_and_urls() -> None:
    """Default names drop www. and keep a non-default port; bare hosts mean https."""
    assert default_name(site_url("www.shop.example.com")) == "shop.example.com"
    assert default_name(site_url("http://127.0.0.1:8080/x")) == "127.0.0.1-8080"
    assert str(site_url("shop.example.com")) == "https://shop.example.com/"
    assert str(site_url("https://shop.example.com/?utm=1#top")) == "https://shop.example.com/"
    with pytest.raises(OnboardError, match="expected a site URL"):
        site_url("ftp://files.example.com/")
    with pytest.raises(OnboardError, match="leave credentials out"):
        site_url("mailto:x@example.com")


def test_the_other_scheme_is_tried_only_on_default_ports() -> None:
    """http://host/ ↔ https://host/ are alternatives; with an explicit non-default port there is none."""
    from sitewatch.cli.onboard import _alternative

    assert str(_alternative(site_url("http://shop.example.com/a"))) == "https://shop.example.com/a"
    assert str(_alternative(site_url("https://shop.example.com:443/"))) == "http://shop.example.com/"
    assert _alternative(site_url("http://127.0.0.1:8080/")) is None


async def test_local_root_is_authoritative_and_a_broken_page_is_refused(tmp_path: Path, capsys: Any) -> None:
    """--root finds the version in the files; a page showing a PHP fatal error is not onboarded as healthy."""
    root = tmp_path / "www"
    (root / "wp-includes").mkdir(parents=True)
    (root / "wp-includes" / "version.php").write_text("<?php\n$wp_version = '6.5.3';\n", encoding="utf-8")
    config = main_config(tmp_path)
    async with serve(wordpress()) as base:
        code, out, err = await add_site(AddSite(base, config, name="shop", root=root, dry_run=True), capsys=capsys)
    assert code == 0, err
    checks = {c["type"]: c for c in yaml.safe_load(out)["checks"]}
    assert checks["cms"]["root"] == str(root)
    assert "WordPress 6.5.3 detected from the files under root" in out
    assert await add_site(AddSite(base, config, root=tmp_path / "nope"), capsys=capsys) == (
        1,
        "",
        f"sitewatch: --root {tmp_path / 'nope'}: not a directory; give the CMS install directory"
        " (where wp-config.php or bitrix/ is)\n",
    )

    async def fatal(_: web.Request) -> web.Response:
        return web.Response(text="<b>Fatal error</b>: Uncaught Error in wp-settings.php", content_type="text/html")

    broken = web.Application()
    broken.router.add_get("/", fatal)
    async with serve(broken) as base:
        code, _, err = await add_site(AddSite(base, config, name="broken", dry_run=True), capsys=capsys)
    assert code == 3
    assert "Fatal error" in err


def test_rendered_file_survives_hostile_text() -> None:
    """Summaries with newlines and YAML syntax stay inside their comments; values read back exactly."""
    from sitewatch.cli.onboard_discovery import Discovery
    from sitewatch.cli.onboard_render import render_site

    found = Discovery(
        url="https://shop.example.com/#: no",
        https=True,
        http_summary="HTTP 200\nchecks: []",
        tls_summary="x\n- type: http",
        cms_summary="none\nname: evil",
        notes=["a\nb: c"],
    )
    site = yaml.safe_load(render_site("shop", found, backups="/var/backups/x #1/*.gz"))
    assert site["name"] == "shop"
    assert site["url"] == "https://shop.example.com/#: no"
    assert [c["type"] for c in site["checks"]] == ["http", "pageload", "tls", "backup"]
    assert site["checks"][3]["path"] == "/var/backups/x #1/*.gz"


async def test_an_already_broken_config_is_not_blamed_on_the_new_file(tmp_path: Path, capsys: Any) -> None:
    """The file is written; the report says the config was invalid before, and shows its errors."""
    config = main_config(tmp_path)
    config.write_text(config.read_text() + "defaults: {intervall: 1m}\n", encoding="utf-8")
    async with serve(wordpress()) as base:
        code, _, err = await add_site(AddSite(base, config, name="shop"), capsys=capsys)
    assert code == 1
    assert "intervall" in err
    assert "was already invalid before" in err
    assert (tmp_path / "sites.d" / "shop.yaml").is_file()


@pytest.mark.slow
async def test_console_script_end_to_end(tmp_path: Path) -> None:
    """The installed `sitewatch add-site` writes the file, prints progress on stderr, and check-config accepts it."""
    import sys

    script = Path(sys.executable).with_name("sitewatch")
    config = main_config(tmp_path)
    async with serve(wordpress()) as base:
        proc = await asyncio.create_subprocess_exec(
            str(script), "add-site", base, "-c", str(config), stdout=PIPE, stderr=PIPE
        )
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "timing the page (5 samples)" in err.decode()
    assert "OK (1 sites; 127.0.0.1-" in out.decode()
    check = await asyncio.create_subprocess_exec(str(script), "check-config", "-c", str(config), stdout=PIPE)
    summary, _ = await check.communicate()
    assert check.returncode == 0
    assert "cms: 1, http: 1, pageload: 1" in summary.decode()


async def test_backup_thresholds_pass_the_backup_just_measured(tmp_path: Path, capsys: Any) -> None:
    """A tiny site's 814 B dump written 40 h ago: the written backup check passes on that very file
    (min_size below 814 B, max_age above 40 h), so the new site is not critical the moment it is watched."""
    config = main_config(tmp_path)
    dumps = tmp_path / "backups"
    dumps.mkdir()
    dump = dumps / "shop-2026-11-26.sql.gz"
    dump.write_bytes(b"x" * 814)
    forty_hours_ago = time.time() - 40 * 3600
    os.utime(dump, (forty_hours_ago, forty_hours_ago))
    async with serve(wordpress()) as base:
        args = AddSite(base, config, name="shop", backups=f"{dumps}/*.sql.gz", dry_run=True)
        code, out, err = await add_site(args, capsys=capsys)
    assert code == 0, err
    backup = next(c for c in yaml.safe_load(out)["checks"] if c["type"] == "backup")
    assert backup["min_size"] == "407B"
    assert 80 <= int(backup["max_age"].removesuffix("h")) <= 81  # twice the age, in whole hours
    settings = {k: backup[k] for k in ("path", "max_age", "min_size")}
    record = await run_check("backup", settings)
    assert record.result.status is Status.OK, record.result.summary


@pytest.mark.parametrize("size", [4096, 10_000_000])
def test_backup_thresholds_for_ordinary_sizes(size: int) -> None:
    """Backups of 2 KB and more keep the usual 1KB floor and 26 h."""
    assert backup_thresholds(size, 3600) == ("26h", "1KB")


async def test_bare_host_and_port_falls_back_to_http(tmp_path: Path, capsys: Any) -> None:
    """`add-site 127.0.0.1:PORT` on a plain-http port: https is tried, then http on the same port, cleanly
    (no 'Future exception was never retrieved')."""
    config = main_config(tmp_path)
    async with serve(wordpress()) as base:
        bare = base.removeprefix("http://")
        code, out, err = await add_site(AddSite(bare, config, name="shop", dry_run=True), capsys=capsys)
    assert code == 0, err
    assert yaml.safe_load(out)["url"] == f"{base}/"
    assert "Future exception" not in err
    assert "never retrieved" not in err


def host_config(tmp_path: Path) -> Path:
    """A config with one server, ``srv`` (``host: true``, on 127.0.0.1), and the sites.d/ include."""
    path = main_config(tmp_path)
    with path.open("a", encoding="utf-8") as out:
        out.write("sites:\n  - {name: srv, host: true, url: 'http://127.0.0.1:9/', checks: [{type: tcp, port: 22}]}\n")
    return path


async def test_depends_on_a_known_host_is_written_and_validated(tmp_path: Path, capsys: Any) -> None:
    """--depends-on srv (a host: true site) goes into the file, which the real config then loads."""
    config = host_config(tmp_path)
    async with serve(wordpress()) as base:
        code, out, err = await add_site(AddSite(f"{base}/", config, name="shop", depends_on="srv"), capsys=capsys)
    assert code == 0, err
    assert yaml.safe_load((tmp_path / "sites.d" / "shop.yaml").read_text())["depends_on"] == "srv"
    assert "depends_on: srv (while it fails, this site opens no ticket of its own)" in err
    shop = next(c for c in load_config(config).checks if c.key == ("shop", "http"))
    assert shop.depends_on == (("srv", None),)


async def test_depends_on_an_unknown_host_is_refused_before_probing(tmp_path: Path, capsys: Any) -> None:
    """A name that is no host: true site is refused with the known hosts; nothing is written."""
    config = host_config(tmp_path)
    code, _, err = await add_site(AddSite("http://127.0.0.1:9/", config, name="shop", depends_on="db"), capsys=capsys)
    assert code == 1
    assert "--depends-on db: no `host: true` site of that name (known hosts: srv)" in err
    assert not (tmp_path / "sites.d").exists()


async def test_a_site_on_a_known_hosts_address_is_offered_depends_on(tmp_path: Path, capsys: Any) -> None:
    """Without --depends-on, a new site whose address is a host's gets the option named, not written."""
    config = host_config(tmp_path)
    async with serve(wordpress()) as base:
        port = base.rsplit(":", 1)[1]
        code, out, err = await add_site(
            AddSite(f"http://shop.test:{port}/", config, name="shop", dry_run=True), HOSTS, capsys=capsys
        )
    assert code == 0, err
    assert "depends_on" not in yaml.safe_load(out)
    assert "runs on host srv (both at 127.0.0.1); run again with --depends-on srv" in err
