"""Onboarding per client: `add-site --client` writes the site under a configured client; check-config lists them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sitewatch.cli.add_site import AddSite
from sitewatch.cli.main import main
from sitewatch.config.loader import load_config
from tests.helpers import serve
from tests.test_add_site import add_site, wordpress

CLIENTS = """\
tickets:
  sinks:
    - {type: webhook, name: hook, url: "http://127.0.0.1:9/default"}
    - {type: webhook, name: magento-team, url: "http://127.0.0.1:9/magento"}
clients:
  - name: acme
    title: ООО «Акме»
    language: ru
    timezone: Europe/Moscow
    calendar: {hours: {mon-thu: "09:00-18:00", fri: "09:00-16:45"}, country: RU, days_off: [2026-12-31, 2027-01-12]}
    routing:
      sinks: [hook]
      overrides: {hook: {url: "http://127.0.0.1:9/acme"}}
      rules: [{tags: [magento], sinks: [magento-team]}]
  - {name: beta}
"""


def _config(tmp_path: Path, sites: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"agent:\n  state_dir: {tmp_path / 'state'}\n  listen: 127.0.0.1:9979\n{CLIENTS}"
        f"include:\n  - sites.d/*.yaml\n{sites}",
        encoding="utf-8",
    )
    return path


async def test_add_site_writes_the_site_under_its_client(tmp_path: Path, capsys: Any) -> None:
    """The file names the client, and the config with it in place puts the site there."""
    config = _config(tmp_path)
    async with serve(wordpress()) as base:
        code, out, err = await add_site(AddSite(f"{base}/", config, name="shop", client="acme"), capsys=capsys)
    assert code == 0, err
    assert 'client: "acme"' in (tmp_path / "sites.d" / "shop.yaml").read_text(encoding="utf-8")
    assert [(s.info.name, s.client) for s in load_config(config).sites] == [("shop", "acme")]


async def test_add_site_refuses_an_unknown_client_before_probing(tmp_path: Path, capsys: Any) -> None:
    """A client not in the config: refused with the known ones, nothing written, nothing probed."""
    config = _config(tmp_path)
    code, _, err = await add_site(AddSite("http://127.0.0.1:9/", config, name="shop", client="acne"), capsys=capsys)
    assert code == 1
    assert "--client 'acne': expected one of the configured clients (acme, beta, default)" in err
    assert not (tmp_path / "sites.d").exists()


def test_check_config_summarises_each_client(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Per client: its sites, the sinks its routing gives them (tag rules too), its language, zone and calendar."""
    sites = (
        "sites:\n"
        "  - {name: a1, url: 'https://a1.example/', client: acme, tags: [magento]}\n"
        "  - {name: a2, url: 'https://a2.example/', client: acme}\n"
        "  - {name: d1, url: 'https://d1.example/'}\n"
    )
    assert main(["check-config", "-c", str(_config(tmp_path, sites))]) == 0
    out = capsys.readouterr().out
    assert "  clients: 3 (name: sites; sinks after routing; language, time zone, calendar)\n" in out
    acme = (
        "    acme (ООО «Акме»): 2 sites; sinks: hook@acme (+ by tags: magento-team); ru, Europe/Moscow,"
        " mon-thu 09:00-18:00, fri 09:00-16:45, RU holidays, 2 days off\n"
    )
    assert acme in out
    assert "    beta: 0 sites; sinks: hook, magento-team; en, UTC, 24x7\n" in out
    assert "    default: 1 site; sinks: hook, magento-team; en, UTC, 24x7\n" in out
