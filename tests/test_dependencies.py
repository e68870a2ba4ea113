"""depends_on between sites, checks and hosts: one incident for a host's outage, config errors located."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from sitewatch.config.loader import ConfigError, load_config
from sitewatch.config.specs import CheckSpec, Config
from sitewatch.engine.results import RunRecord
from sitewatch.incidents.state import IncidentEvent
from sitewatch.incidents.tracker import IncidentTracker
from sitewatch.probe import Result, Status
from sitewatch.store.database import Store
from sitewatch.tickets.render import body
from tests.configs import write_site_config

HOST = """\
    sites:
      - name: srv
        host: true
        url: http://127.0.0.1:9/
        checks: [{type: tcp, port: 22}]
"""


def _fleet(count: int) -> str:
    return HOST + "".join(
        f"      - {{name: site-{n:02d}, url: 'http://127.0.0.1:9/', depends_on: srv, checks: [{{type: http}}]}}\n"
        for n in range(count)
    )


class Recording(Store):
    """The real store, also keeping every payload it was asked to record."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.payloads: list[dict[str, Any]] = []

    def record(self, key: str, event: IncidentEvent, **kwargs: Any) -> int:
        self.payloads.append(kwargs["payload"])
        return super().record(key, event, **kwargs)


class Fleet:
    """A tracker over a config, fed one round of results at a time (hosts first, as the book would hold them)."""

    def __init__(self, config: Config, tmp_path: Path) -> None:
        self.store = Recording(tmp_path / "s.db")
        self.latest: dict[tuple[str, str], Status] = {}
        self.tracker = IncidentTracker(
            self.store, ["local"], logging.getLogger("sitewatch.test"), lambda s, c: self.latest.get((s, c))
        )
        self.tracker.depend(config.checks)
        self.specs: list[CheckSpec] = sorted(config.checks, key=lambda c: c.site.name != "srv")
        self.at = 1_000_000.0

    def round(self, failing: set[str]) -> None:
        """Every check runs once; those of the sites in ``failing`` fail."""
        for spec in self.specs:
            status = Status.CRITICAL if spec.site.name in failing else Status.OK
            record = RunRecord(spec.site.name, spec.name, spec.type, Result(status, str(status)), self.at, 0.1)
            self.tracker.observe(spec, record)
            self.latest[spec.key] = status
        self.at += 60.0

    def open(self) -> list[str]:
        return sorted(self.store.open_incidents())


def test_a_host_with_30_sites_down_is_one_incident_listing_them_and_the_one_still_broken_opens_after(
    tmp_path: Path,
) -> None:
    """Host down: one incident listing the 30; recovery resolves it; the site still down opens, from its start."""
    config = load_config(write_site_config(tmp_path, _fleet(30)))
    fleet = Fleet(config, tmp_path)
    sites = {f"site-{n:02d}" for n in range(30)}
    started = fleet.at
    for _ in range(6):
        fleet.round({"srv", *sites})
    assert fleet.open() == ["sw:v1:srv:tcp"]
    (opened,) = [p for p in fleet.store.payloads if p["event"] == "opened"]
    assert opened["affected"] == [f"{name}/http" for name in sorted(sites)]
    assert "Failing with it, no tickets of their own (they depend on it), 30: site-00/http, site-01/http" in body(
        opened
    )
    for _ in range(3):
        fleet.round({"site-07"})
    assert fleet.open() == ["sw:v1:site-07:http"]
    # The host's first ok run frees the site at once (its real state), before the host's own resolve.
    events = [(p["site"], p["event"]) for p in fleet.store.payloads]
    assert events == [("srv", "opened"), ("site-07", "opened"), ("srv", "resolved")]
    assert fleet.store.payloads[1]["opened_at"] == started  # its real start, not the host's recovery
    assert fleet.store.open_incidents()["sw:v1:site-07:http"].opened_at == started


def test_a_child_already_open_when_the_parent_fails_stays_open_and_resolves_normally(tmp_path: Path) -> None:
    """Suppression stops openings, never resolutions: the child's own incident runs its course."""
    fleet = Fleet(load_config(write_site_config(tmp_path, _fleet(2))), tmp_path)
    for _ in range(3):
        fleet.round({"site-00"})
    assert fleet.open() == ["sw:v1:site-00:http"]
    for _ in range(3):
        fleet.round({"srv", "site-00", "site-01"})
    assert fleet.open() == ["sw:v1:site-00:http", "sw:v1:srv:tcp"]
    for _ in range(2):
        fleet.round(set())
    assert fleet.open() == []


def test_a_check_may_depend_on_another_sites_check_and_pageload_still_follows_http(tmp_path: Path) -> None:
    """`depends_on: shop/http` on a check; the implied http → pageload rule of one site is kept."""
    config = load_config(
        write_site_config(
            tmp_path,
            """\
            sites:
              - name: shop
                url: http://127.0.0.1:9/
                checks: [{type: http}, {type: pageload}]
              - name: api
                url: http://127.0.0.1:9/
                checks: [{type: http, depends_on: [shop/http]}]
            """,
        )
    )
    assert {c.key: c.depends_on for c in config.checks}[("api", "http")] == (("shop", "http"),)
    fleet = Fleet(config, tmp_path)
    fleet.specs.sort(key=lambda c: c.key != ("shop", "http"))
    for _ in range(4):
        fleet.round({"shop", "api"})
    assert fleet.open() == ["sw:v1:shop:http"]
    assert fleet.store.payloads[0]["affected"] == ["api/http", "shop/pageload"]


@pytest.mark.parametrize(
    ("fragment", "location", "message"),
    [
        ("depends_on: nowhere", "sites[1].depends_on", "no site or host named 'nowhere'"),
        ("depends_on: [srv, srv/http]", "sites[1].depends_on[1]", "site 'srv' has no check named 'http' (it has: tcp)"),
        ("depends_on: b", "sites[1].", "dependency cycle: a/http → b/http → a/http"),
        ("depends_on: a", "sites[1].", "dependency cycle: a/http → a/http"),
    ],
)
def test_unknown_names_and_cycles_are_located_config_errors(
    tmp_path: Path, fragment: str, location: str, message: str
) -> None:
    """Each bad depends_on names its file, line and key, and what is wrong."""
    path = write_site_config(
        tmp_path,
        HOST
        + f"      - {{name: a, url: 'http://127.0.0.1:9/', {fragment}}}\n"
        + "      - {name: b, url: 'http://127.0.0.1:9/', depends_on: a}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert message in text
    assert location in text
    assert f"{path}:" in text
