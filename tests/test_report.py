"""`sitewatch report`: the numbers of a constructed month in every format, and clear errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sitewatch.cli.main import main
from sitewatch.reports.formats import format_percent
from sitewatch.reports.report import ReportError, last, month
from sitewatch.store.database import Store
from tests.configs import write_site_config


def ts(text: str) -> float:
    """Unix time of an ISO timestamp written with its zone."""
    return dt.datetime.fromisoformat(text).timestamp()


FEB = ts("2024-02-01T00:00:00+00:00")  # a leap year: 29 days
MAR = ts("2024-03-01T00:00:00+00:00")
OUTAGE = ts("2024-02-10T12:00:00+00:00")
STOPPED = ts("2024-02-15T00:00:00+00:00")

# shop, http every 60 s (reach 70 s), samples at :30 past each minute:
#   down [12:00:30, 12:10:30) on the 10th = 600 s
#   agent stopped: the 23:59:30 sample reaches 00:00:40, the next is 01:00:30 = 3590 s no data
#   maintenance 2024-02-20 02:00–04:00 = 7200 s
SHOP_DOWN = 600.0
SHOP_NO_DATA = 3590.0
SHOP_MAINTENANCE = 7200.0
SHOP_UP = 29 * 86400 - SHOP_DOWN - SHOP_NO_DATA - SHOP_MAINTENANCE
SHOP_RATIO = SHOP_UP / (SHOP_UP + SHOP_DOWN)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Three sites: shop (an outage, a gap, maintenance; a tls check), api (always up), blog (never seen)."""
    return write_site_config(
        tmp_path,
        """\
        sites:
          - name: shop
            url: https://shop.example.com/
            sla: 99.99
            maintenance:
              - {from: "2024-02-20T02:00:00Z", until: "2024-02-20T04:00:00Z"}
            checks:
              - {type: http}
              - {type: tls, interval: 1h}
          - name: api
            url: https://api.example.com/
          - name: blog
            url: https://blog.example.com/
        """,
        sla="99.9",
    )


@pytest.fixture
def store(tmp_path: Path, config: Path) -> Path:
    """The store the agent would have written for February 2024."""
    rows = []
    at = FEB - 30
    while at < MAR:
        if not STOPPED <= at < STOPPED + 3600:
            rows.append(("shop", "http", at, "critical" if OUTAGE <= at < OUTAGE + 600 else "ok", 0.2))
            rows.append(("api", "http", at, "ok", 0.1))
        at += 60
    rows += [("shop", "tls", FEB + h * 3600, "warning", 0.3) for h in range(29 * 24)]
    path = tmp_path / "sitewatch.db"
    db = Store(path)
    db.append_history(rows)
    for check, opened, resolved in (
        ("http", OUTAGE + 150, OUTAGE + 690),  # 9 min to resolve
        ("tls", FEB - 86400, None),  # opened in January: not this month's
    ):
        db.db.execute(
            "INSERT INTO incidents (key, site, check_name, opened_at, resolved_at, summary) VALUES (?, ?, ?, ?, ?, '')",
            (f"sw:v1:shop:{check}", "shop", check, opened, resolved),
        )
    db.close()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_month_and_since_periods() -> None:
    """Months are UTC calendar months (February 2024 has 29 days); --since counts back from now."""
    assert month("2024-02") == month(" 2024-02 ")
    feb = month("2024-02")
    assert (feb.start, feb.end, feb.label) == (FEB, MAR, "2024-02")
    dec = month("2026-12")
    assert dec.end == ts("2027-01-01T00:00:00+00:00")
    assert last("30d", 1e9).start == 1e9 - 30 * 86400
    for bad in ("2024-13", "2024-2", "Feb 2024", ""):
        with pytest.raises(ReportError, match="expected a month like 2026-11"):
            month(bad)


def test_percent_is_never_rounded_up() -> None:
    """99.99996 % is shown as 99.999 %, never as 100 %; no observations is '-'."""
    assert format_percent(0.9999996) == "99.999%"
    assert format_percent(1.0) == "100.000%"
    assert format_percent(23 / 40) == "57.500%"  # float noise (57499.99999999999) does not cost a thousandth
    assert format_percent(None) == "-"


def test_exactly_on_target_is_met() -> None:
    """709 s up and 291 s down against 70.9 % is met, though 709 / 1000 * 100 < 70.9 in floating point."""
    from sitewatch.reports.availability import Availability
    from sitewatch.reports.report import Incidents, SiteReport

    report = SiteReport("s", Availability(709, 291, 0, 0), 291, Incidents(0, 0, None), 70.9, ())
    assert report.met is True
    assert report.allowed_downtime == pytest.approx(291)


def test_table(capsys: pytest.CaptureFixture[str], config: Path, store: Path) -> None:
    """The aligned table: availability, downtime, no data, maintenance, incidents, MTTR, SLA verdicts."""
    code, out, err = run(capsys, "report", "-c", str(config), "--month", "2024-02")
    assert code == 0, err
    assert "2024-02-01T00:00:00Z to 2024-03-01T00:00:00Z" in out
    lines = {tuple(line.split()[:2]): line.split() for line in out.splitlines()[2:] if line.strip()}
    shop = lines[("shop", "(site)")]
    assert shop[2] == format_percent(SHOP_RATIO) == "99.975%"
    assert shop[3:6] == ["10m", "59m", "50s"]  # downtime 10m, no data 59m 50s…
    assert out.count("MISSED") == 1  # shop: 99.975 % < 99.99 %
    assert "met" in lines[("api", "(site)")]
    assert lines[("api", "(site)")][2] == "100.000%"
    assert lines[("blog", "(site)")][2] == "-"
    assert "no data" in out  # blog: never observed, so no verdict
    assert any("(not counted)" in line for line in out.splitlines())  # tls does not decide the site


def test_csv(capsys: pytest.CaptureFixture[str], config: Path, store: Path) -> None:
    """CSV: one row per site and per check, plain seconds and percent."""
    code, out, _ = run(capsys, "report", "-c", str(config), "--month", "2024-02", "--format", "csv")
    assert code == 0
    rows = {(r["site"], r["check"]): r for r in csv.DictReader(io.StringIO(out))}
    shop = rows[("shop", "")]
    assert float(shop["down_seconds"]) == SHOP_DOWN
    assert float(shop["no_data_seconds"]) == SHOP_NO_DATA
    assert float(shop["maintenance_seconds"]) == SHOP_MAINTENANCE
    assert float(shop["up_seconds"]) == pytest.approx(SHOP_UP)
    assert float(shop["availability_percent"]) == pytest.approx(SHOP_RATIO * 100, abs=1e-4)
    assert (shop["incidents"], shop["mttr_seconds"], shop["longest_outage_seconds"]) == ("1", "540.000", "600.000")
    assert (shop["sla_percent"], shop["sla_met"]) == ("99.99", "no")
    assert rows[("shop", "tls")]["counted"] == "no"
    assert rows[("shop", "tls")]["incidents"] == "0"  # opened in January
    assert rows[("api", "")]["sla_met"] == "yes"
    assert rows[("blog", "")]["availability_percent"] == ""
    assert float(rows[("blog", "")]["no_data_seconds"]) == 29 * 86400


def test_json_for_one_site(capsys: pytest.CaptureFixture[str], config: Path, store: Path) -> None:
    """JSON: the same numbers, ratio as a fraction, null where there is none."""
    code, out, _ = run(capsys, "report", "-c", str(config), "--month", "2024-02", "--format", "json", "--site", "shop")
    assert code == 0
    data = json.loads(out)
    assert data["period"] == {"label": "2024-02", "start": "2024-02-01T00:00:00Z", "end": "2024-03-01T00:00:00Z"}
    [shop] = data["sites"]
    a = shop["availability"]
    assert a["ratio"] == pytest.approx(SHOP_RATIO)
    assert a["up_seconds"] + a["down_seconds"] + a["maintenance_seconds"] + a["no_data_seconds"] == pytest.approx(
        29 * 86400
    )
    assert shop["incidents"] == {"count": 1, "open": 0, "mttr_seconds": 540.0}
    assert shop["sla"]["met"] is False
    assert shop["sla"]["allowed_downtime_seconds"] == pytest.approx((SHOP_UP + SHOP_DOWN) * 1e-4)
    tls = next(c for c in shop["checks"] if c["check"] == "tls")
    assert tls["availability"]["down_seconds"] == 0  # warnings are up


class _Cells(HTMLParser):
    """Collects the text of every table cell."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in = tag in ("td", "th")
        if self._in:
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in = False

    def handle_data(self, data: str) -> None:
        if self._in:
            self.cells[-1] += data


def test_html_is_self_contained(capsys: pytest.CaptureFixture[str], config: Path, store: Path) -> None:
    """HTML: one page, no external resources or scripts, the same figures in its cells."""
    code, out, _ = run(capsys, "report", "-c", str(config), "--month", "2024-02", "--format", "html")
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script|<link|src=|https?://", out)
    parser = _Cells()
    parser.feed(out)
    # Written for people, as a client's page is: two decimals truncated, durations in words.
    assert {"99.97%", "missed", "met", "no data", "9 minutes"} <= set(parser.cells)
    assert "All sites: availability, February 2024" in out


def test_site_names_are_escaped_in_html(tmp_path: Path) -> None:
    """Nothing from the config reaches the page unescaped (titles are free text)."""
    from dataclasses import replace

    from sitewatch.reports.formats import render_html
    from sitewatch.reports.report import Period, site_report
    from tests.test_availability import shop_config

    db = Store(tmp_path / "sitewatch.db")
    try:
        report = site_report(db, shop_config(tmp_path).sites[0], Period(0, 60, "<b>x</b>"))
    finally:
        db.close()
    page = render_html([replace(report, title="<b>x</b>")], Period(0, 60, "last 1m"))
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--site", "nope"], "no site 'nope' in"),
        (["--month", "2024-13"], "--month: expected a month like 2026-11, got '2024-13'"),
        (["--since", "ten days"], "--since: expected a duration"),
        (["--month", "2999-01"], "2999-01 has not started yet"),
    ],
)
def test_bad_arguments_are_clear(
    capsys: pytest.CaptureFixture[str], config: Path, store: Path, argv: list[str], message: str
) -> None:
    """Unknown site, bad month or duration, a future month: one line on stderr and exit 3."""
    code, out, err = run(capsys, "report", "-c", str(config), *argv)
    assert (code, out) == (3, "")
    assert message in err, err


def test_no_store_yet(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    """Before the agent ever ran there is no store: say so instead of creating one."""
    code, _, err = run(capsys, "report", "-c", str(config))
    assert code == 3
    assert f"no history at {config.parent / 'sitewatch.db'}: has the agent run?" in err
    assert not (config.parent / "sitewatch.db").exists()


def test_month_and_since_exclude_each_other(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    """argparse refuses both at once."""
    with pytest.raises(SystemExit) as info:
        main(["report", "-c", str(config), "--month", "2024-02", "--since", "30d"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_report_reads_while_the_store_is_open_for_writing(
    capsys: pytest.CaptureFixture[str], config: Path, store: Path
) -> None:
    """A running agent holds the store open (WAL): the read-only report still works and writes nothing."""
    agent_side = Store(store)
    try:
        agent_side.append_history([("api", "http", FEB + 5, "critical", 0.1)])
        before = store.stat().st_mtime_ns
        code, out, err = run(capsys, "report", "-c", str(config), "--month", "2024-02", "--format", "json")
        assert code == 0, err
        api = next(s for s in json.loads(out)["sites"] if s["site"] == "api")
        assert api["availability"]["down_seconds"] == 25  # the new sample is seen: from FEB+5 to the next one
        assert store.stat().st_mtime_ns == before
    finally:
        agent_side.close()


def test_the_current_month_is_reported_so_far(config: Path, store: Path) -> None:
    """Mid-month, the period ends now: the rest of the month is neither up nor no data yet; --since counts back."""
    from sitewatch.cli.report import make_report
    from sitewatch.config.loader import load_config

    cfg = load_config(config)
    now = FEB + 10 * 86400 + 5
    data = json.loads(make_report(cfg, site="api", month_text="2024-02", since=None, fmt="json", now=now))
    assert data["period"]["end"] == "2024-02-11T00:00:05Z"
    a = data["sites"][0]["availability"]
    assert a["up_seconds"] == pytest.approx(10 * 86400 + 5)
    assert a["no_data_seconds"] == 0
    data = json.loads(make_report(cfg, site="api", month_text=None, since=None, fmt="json", now=now))
    assert data["period"]["label"] == "last 30d"
    assert data["period"]["start"] == "2024-01-12T00:00:05Z"
