"""Names people use (site ``title:``) and includes that are empty or broken at start."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path

import aiohttp
import pytest

from sitewatch.cli.loading import EXIT_UNUSABLE
from sitewatch.cli.main import main
from sitewatch.config import ConfigError, load_config
from sitewatch.reports.formats import as_json, render_html
from sitewatch.reports.report import build_report, month
from sitewatch.store.database import Store
from sitewatch.tickets.render import body
from tests.agent_process import agent_process, get
from tests.configs import write_site_config
from tests.helpers import free_port
from tests.statuspage_helpers import fixed_availability, page_app, site

TITLE = "Интернет-магазин «Ромашка»"


def test_cyrillic_name_is_refused_with_a_pointer_to_title(tmp_path: Path) -> None:
    """``name:`` stays the label-safe key; its error names the line and suggests ``title:``."""
    path = write_site_config(tmp_path, "sites:\n  - name: Ромашка\n    url: https://romashka.example/\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.path == "sites[0].name"
    assert problem.origin.line == 7
    assert "title:" in problem.message


def test_title_reaches_the_spec_ticket_and_report(tmp_path: Path) -> None:
    """A title in any script is kept, carried by every check, and read in the ticket body and the report."""
    path = write_site_config(
        tmp_path, f"sites:\n  - name: romashka\n    title: '  {TITLE} '\n    url: https://romashka.example/\n"
    )
    config = load_config(path)
    (spec,) = config.sites
    assert spec.title == TITLE
    assert spec.label == f"{TITLE} (romashka)"
    assert config.checks[0].site_title == TITLE
    payload = {
        "site": "romashka", "site_title": TITLE, "check": "http", "url": "https://romashka.example/",
        "severity": "critical", "priority": "P1", "key": "k", "opened_at": 0.0, "language": "ru",
    }  # fmt: skip
    assert f"сайта {TITLE} (romashka)" in body(payload)
    store = Store(tmp_path / "r.db")
    try:
        reports = build_report(store, config.sites, month("2026-11"))
    finally:
        store.close()
    assert as_json(reports, month("2026-11"))["sites"][0]["title"] == TITLE
    assert f"<td>{TITLE} (romashka)</td>" in render_html(reports, month("2026-11"))


def test_title_with_a_line_break_is_refused(tmp_path: Path) -> None:
    """A title is one line of text: a newline (it would break ticket bodies) is an error at its key."""
    path = write_site_config(tmp_path, 'sites:\n  - {name: a, title: "x\\ny", url: "https://a.example/"}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [p.path for p in caught.value.problems] == ["sites[0].title"]


async def test_status_page_shows_the_title(tmp_path: Path) -> None:
    """The card's heading carries the title, escaped, with the name beside it."""
    spec = dataclasses.replace(site("romashka"), title=TITLE + " <b>")
    async with page_app(tmp_path, [spec], fixed_availability({}), lambda: 1000.0) as app:
        async with aiohttp.ClientSession() as session, session.get(app.url + "/") as response:
            html = await response.text()
    assert f"{TITLE} &lt;b&gt;" in html
    assert "<b>" not in html.split("<h3>", 1)[1].split("</h3>", 1)[0].replace("<small", "")


def test_glob_matching_nothing_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check-config passes, and says which include matched nothing (an empty sites.d/ is normal)."""
    (tmp_path / "sites.d").mkdir()
    path = write_site_config(
        tmp_path, "include: [sites.d/, 'more/*.yaml']\nsites:\n  - {name: a, url: 'https://a.example/'}\n"
    )
    assert main(["check-config", "-c", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"warning: {path}:6: include[0]: matches no file: 'sites.d/'" in err
    assert f"warning: {path}:6: include[1]: matches no file: 'more/*.yaml'" in err


def _fleet(tmp_path: Path, listen: str = "127.0.0.1:9") -> Path:
    """A main file with one site and a folder of 3 good includes and one with a bad timeout."""
    folder = tmp_path / "sites.d"
    folder.mkdir()
    for n in range(3):
        (folder / f"good{n}.yaml").write_text(f"name: good{n}\nurl: http://127.0.0.1:9/{n}\n", encoding="utf-8")
    (folder / "broken.yaml").write_text("name: broken\nurl: http://127.0.0.1:9/\ntimeout: soon\n", encoding="utf-8")
    main_sites = "include: sites.d/\nsites:\n  - {name: main, url: 'http://127.0.0.1:9/'}\n"
    path = write_site_config(tmp_path, main_sites, interval="1h")
    text = path.read_text(encoding="utf-8").replace("agent:\n", f"agent:\n  listen: '{listen}'\n", 1)
    path.write_text(text, encoding="utf-8")
    return path


def test_broken_include_is_skipped_only_when_asked(tmp_path: Path) -> None:
    """Strict loading fails at the broken file's line; lenient loading keeps the other four sites and warns."""
    path = _fleet(tmp_path)
    broken = str(tmp_path / "sites.d" / "broken.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [(p.origin.file, p.origin.line, p.path) for p in caught.value.problems] == [(broken, 3, "sites[1].timeout")]
    config = load_config(path, skip_broken_includes=True)
    assert sorted(s.info.name for s in config.sites) == ["good0", "good1", "good2", "main"]
    assert [w.origin.file for w in config.warnings] == [broken, broken]
    assert "skipped" in str(config.warnings[0])


def test_error_in_the_main_file_is_never_skipped(tmp_path: Path) -> None:
    """Leniency covers included files only: a bad main file still refuses to load."""
    path = _fleet(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("interval: 1h", "interval: often"), encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(path, skip_broken_includes=True)


async def test_run_starts_without_the_broken_include_unless_strict(tmp_path: Path) -> None:
    """`run` watches the four good sites and logs the broken file; `run --strict` refuses to start and names it."""
    listen = f"127.0.0.1:{free_port()}"
    path = _fleet(tmp_path, listen)
    async with agent_process(path, listen) as agent:
        status, text = await get(listen, "/api/status")
        assert status == 200
        assert all(f'"{name}"' in text for name in ("main", "good0", "good1", "good2"))
        assert '"broken"' not in text
        assert any("config_warning" in line and "broken.yaml" in line for line in agent.lines)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sitewatch.cli", "run", "--strict", "-c", str(path),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == EXIT_UNUSABLE
    assert "broken.yaml:3: sites[1].timeout" in err.decode()
