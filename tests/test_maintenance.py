"""Maintenance windows and silences: results keep flowing, incidents do not open."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys
import textwrap
from pathlib import Path

import pytest

from sitewatch.config.loader import ConfigError, load_config
from sitewatch.config.maintenance import MaintenanceWindow
from sitewatch.engine.results import RunRecord
from sitewatch.incidents.tracker import IncidentTracker
from sitewatch.probe import Result, Status
from sitewatch.store.database import Store


def ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def test_one_off_window() -> None:
    """from/until is a half-open interval in absolute time."""
    window = MaintenanceWindow.model_validate({"from": "2026-12-01T02:00:00Z", "until": "2026-12-01T04:00:00Z"})
    assert not window.contains(ts("2026-12-01T01:59:59+00:00"))
    assert window.contains(ts("2026-12-01T02:00:00+00:00"))
    assert not window.contains(ts("2026-12-01T04:00:00+00:00"))


def test_recurring_window() -> None:
    """Sundays 03:00 UTC for 2 h, including one that started before midnight of the check time."""
    window = MaintenanceWindow.model_validate({"cron": "0 3 * * 0", "duration": "2h"})
    assert window.contains(ts("2026-11-29T03:00:00+00:00"))  # a Sunday
    assert window.contains(ts("2026-11-29T04:59:59+00:00"))
    assert not window.contains(ts("2026-11-29T05:00:00+00:00"))
    assert not window.contains(ts("2026-11-30T03:30:00+00:00"))  # Monday
    late = MaintenanceWindow.model_validate({"cron": "0 23 * * *", "duration": "3h"})
    assert late.contains(ts("2026-11-30T01:00:00+00:00"))


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"cron": "0 3 * *", "duration": "2h"}, "expected a cron expression"),
        ({"from": "2026-12-01T02:00:00Z"}, "needs both from: and until:"),
        ({"from": "2026-12-01T02:00:00", "until": "2026-12-01T03:00:00"}, "with a zone"),
        ({"cron": "0 3 * * 0"}, "needs both cron: (UTC) and duration:"),
        ({"cron": "0 3 * * 0", "duration": "1h", "until": "2026-12-01T03:00:00Z"}, "either from:/until: or cron:"),
    ],
)
def test_bad_windows_are_config_errors(tmp_path: Path, window: dict[str, str], message: str) -> None:
    """A bad window names its file, line and path."""
    body = ", ".join(f"{k}: '{v}'" for k, v in window.items())
    path = tmp_path / "c.yaml"
    path.write_text(f"sites:\n  - name: a\n    url: http://a.example/\n    maintenance:\n      - {{{body}}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problem = str(info.value.problems[0])
    assert problem.startswith(f"{path}:5: sites[0].maintenance[0]")
    assert message in problem


def config(tmp_path: Path, window: str = '{cron: "0 3 * * 0", duration: 2h, reason: weekly updates}') -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent: {{state_dir: {tmp_path / "state"}}}
        defaults: {{fail_after: 1}}
        maintenance: [{window}]
        sites:
          - name: shop
            url: http://shop.example/
        """),
        encoding="utf-8",
    )
    return path


def feed(tracker: IncidentTracker, spec: object, at: float) -> list[str]:
    record = RunRecord("shop", "http", "http", Result(Status.CRITICAL, "HTTP 503"), at, 0.1)
    return [e.kind for e in tracker.observe(spec, record)]  # type: ignore[arg-type]


def test_global_window_suppresses_opening(tmp_path: Path) -> None:
    """A failure inside the global window opens nothing; the same failure after it opens one."""
    cfg = load_config(config(tmp_path))
    (spec,) = cfg.checks
    store = Store(tmp_path / "state" / "sitewatch.db")
    tracker = IncidentTracker(store, ["local"], logging.getLogger("sitewatch.test"), lambda *_: None)
    assert feed(tracker, spec, ts("2026-11-29T03:30:00+00:00")) == []
    assert feed(tracker, spec, ts("2026-11-29T05:30:00+00:00")) == ["opened"]


async def test_silence_from_the_cli(tmp_path: Path) -> None:
    """`sitewatch silence` writes a silence the tracker honours; unknown sites are refused."""
    # A window long past, so only the silence can suppress anything here.
    path = config(tmp_path, '{from: "2020-01-01T00:00:00Z", until: "2020-01-02T00:00:00Z"}')

    async def cli(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sitewatch.cli", "silence", "-c", str(path), *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    code, out = await cli("shop", "--for", "2h", "--reason", "server move", "--by", "petrov")
    assert code == 0
    assert out.strip() == "silence 1: shop opens no new incidents for 2h (server move)"
    assert (await cli("nope", "--for", "2h", "--reason", "x"))[0] == 3
    assert "expected a duration" in (await cli("shop", "--for", "soon", "--reason", "x"))[1]

    (spec,) = load_config(path).checks
    store = Store(tmp_path / "state" / "sitewatch.db")
    tracker = IncidentTracker(store, ["local"], logging.getLogger("sitewatch.test"), lambda *_: None)
    now = dt.datetime.now(dt.UTC).timestamp()
    assert store.silence("shop", now) == "server move"
    assert feed(tracker, spec, now) == []
    assert feed(tracker, spec, now + 3 * 3600) == ["opened"]


def test_in_force_lists_each_sites_windows_with_reason_and_end() -> None:
    """The windows covering a moment, once per site, with their reason and the end of this occurrence."""
    from sitewatch.config.maintenance import in_force

    weekly = MaintenanceWindow.model_validate({"cron": "0 3 * * 0", "duration": "2h", "reason": "weekly updates"})
    move = MaintenanceWindow.model_validate(
        {"from": "2026-11-29T00:00:00Z", "until": "2026-11-30T00:00:00Z", "reason": "server move"}
    )
    past = MaintenanceWindow.model_validate({"from": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"})
    at = ts("2026-11-29T04:00:00+00:00")  # a Sunday, inside both
    listed = in_force([("shop", [weekly, move, weekly, past]), ("blog", [past]), ("crm", [weekly])], at)
    assert listed == [
        {"site": "shop", "until": "2026-11-29T05:00:00Z", "reason": "weekly updates", "recurring": True},
        {"site": "shop", "until": "2026-11-30T00:00:00Z", "reason": "server move", "recurring": False},
        {"site": "crm", "until": "2026-11-29T05:00:00Z", "reason": "weekly updates", "recurring": True},
    ]
    assert in_force([("shop", [weekly, move])], ts("2026-11-30T04:00:00+00:00")) == []


async def test_the_running_agent_shows_a_window_and_its_reason(tmp_path: Path) -> None:
    """A window in force now is in /api/status and on the status page with its reason; others are not.

    A client's page lists its own sites' windows and never another client's.
    """
    import aiohttp

    from tests.helpers import free_port, running_agent

    now = dt.datetime.now(dt.UTC)
    start, end = ((now + dt.timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in (-1, 1))
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent: {{listen: "127.0.0.1:{free_port()}", state_dir: {tmp_path}, operator_token: {"o" * 32}}}
        defaults: {{interval: 1h, timeout: 500ms}}
        clients:
          - {{name: acme, token: {"a" * 32}}}
          - {{name: beta, token: {"b" * 32}}}
        sites:
          - name: shop
            client: acme
            url: http://127.0.0.1:9/
            maintenance: [{{from: "{start}", until: "{end}", reason: "замена диска <b>"}}]
          - name: blog
            client: beta
            url: http://127.0.0.1:9/
        """),
        encoding="utf-8",
    )
    operator = {"Authorization": "Bearer " + "o" * 32}
    async with running_agent(path) as agent, aiohttp.ClientSession(headers=operator) as client:
        base = f"http://{agent.web.bound[0]}"
        async with client.get(base + "/api/status") as resp:
            document = await resp.json()
        assert document["maintenance"] == [
            {"site": "shop", "until": end, "reason": "замена диска <b>", "recurring": False}
        ]
        async with client.get(base + "/") as resp:
            page = await resp.text()
        assert 'data-maintenance="shop"' in page
        assert "замена диска &lt;b&gt;" in page  # escaped, as every text from config
        assert 'data-maintenance="blog"' not in page
        for name, listed in (("acme", True), ("beta", False)):
            headers = {"Authorization": "Bearer " + name[0] * 32}
            async with client.get(f"{base}/clients/{name}/", headers=headers) as resp:
                assert resp.status == 200
                assert ('data-maintenance="shop"' in await resp.text()) is listed, name
