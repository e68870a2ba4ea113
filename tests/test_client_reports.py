"""Per-client reports: one client's sites in its language and zone, tag filters, one file per client."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from sitewatch.cli.main import main
from sitewatch.reports.report import month
from sitewatch.store.database import Store
from tests.configs import write_site_config

NOV_UTC = dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()
NOV_MSK = NOV_UTC - 3 * 3600  # Moscow is UTC+3 all year
DEC_UTC = dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()
#: Each site's own check name, so a file can be searched for any trace of another client.
SITES = {
    "acme": {"acme-shop": "acme-shop-http", "acme-blog": "acme-blog-http"},
    "beta": {"beta-shop": "beta-shop-http"},
}
TAGS = {"acme-shop": "magento", "acme-blog": "wordpress", "beta-shop": "magento"}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Acme (Russian, Moscow, a Cyrillic title) with two sites, Beta (English, UTC) with one, a site-less default."""
    sites = "".join(
        f"  - {{name: {site}, url: 'https://{site}.example/', client: {client}, tags: [{TAGS[site]}], sla: 99.9,"
        f" checks: [{{type: http, name: {check}}}]}}\n"
        for client, checks in SITES.items()
        for site, check in checks.items()
    )
    return write_site_config(
        tmp_path,
        "clients:\n"
        "  - {name: acme, title: ООО «Акме», language: ru, timezone: Europe/Moscow}\n"
        "  - {name: beta, title: Beta Ltd, language: en}\n"
        f"sites:\n{sites}",
    )


@pytest.fixture
def store(tmp_path: Path, config: Path) -> Path:
    """Every site up once a minute from Moscow's 1 November to the end of November UTC; beta down for 10 min."""
    rows = []
    at = NOV_MSK - 30
    while at < DEC_UTC:
        for checks in SITES.values():
            for site, check in checks.items():
                down = site == "beta-shop" and NOV_UTC + 86400 <= at < NOV_UTC + 86400 + 600
                rows.append((site, check, at, "critical" if down else "ok", 0.1))
        at += 60
    db = Store(tmp_path / "sitewatch.db")
    db.append_history(rows)
    db.close()
    return tmp_path / "sitewatch.db"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _words(client: str) -> set[str]:
    return {w for site, check in SITES[client].items() for w in (site, check)}


def test_a_clients_month_is_its_local_month() -> None:
    """November in Moscow starts at 21:00 UTC on 31 October and ends at 21:00 UTC on 30 November."""
    nov = month("2026-11", "Europe/Moscow")
    assert (nov.start, nov.end) == (NOV_MSK, DEC_UTC - 3 * 3600)


def test_a_clients_html_report_is_in_its_language_with_only_its_sites(
    capsys: pytest.CaptureFixture[str], config: Path, store: Path
) -> None:
    """Russian words, Moscow times, the client's title; the other client's sites are nowhere in it."""
    code, out, err = run(
        capsys, "report", "-c", str(config), "--client", "acme", "--month", "2026-11", "--format", "html"
    )
    assert code == 0, err
    assert '<html lang="ru">' in out
    assert "ООО «Акме»: доступность, ноябрь 2026" in out
    assert "с 1 нояб. 2026 г., 00:00 MSK по 1 дек. 2026 г., 00:00 MSK" in out
    for piece in ("Доступность</th>", "<td>выполнен</td>", "<td>100,00%</td>", "<td>99,90%</td>"):
        assert piece in out
    assert all(w in out for w in _words("acme"))
    assert not any(w in out for w in _words("beta"))


def test_a_clients_json_and_csv_keep_english_keys_and_local_bounds(
    capsys: pytest.CaptureFixture[str], config: Path, store: Path
) -> None:
    """Data formats: stable keys, the client named, the period's bounds in the client's zone."""
    code, out, err = run(
        capsys, "report", "-c", str(config), "--client", "acme", "--month", "2026-11", "--format", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["client"] == {"name": "acme", "title": "ООО «Акме»", "language": "ru", "timezone": "Europe/Moscow"}
    assert data["period"] == {
        "label": "2026-11",
        "start": "2026-11-01T00:00:00+03:00",
        "end": "2026-12-01T00:00:00+03:00",
    }
    assert [s["site"] for s in data["sites"]] == ["acme-shop", "acme-blog"]
    code, out, err = run(
        capsys, "report", "-c", str(config), "--client", "beta", "--month", "2026-11", "--format", "csv"
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["site"] for r in rows} == {"beta-shop"}
    assert rows[0]["period_start"] == "2026-11-01T00:00:00+00:00"
    assert float(rows[0]["down_seconds"]) == 600


@pytest.mark.parametrize(
    ("argv", "sites"),
    [
        (["--tag", "magento"], {"acme-shop", "beta-shop"}),
        (["--tag", "magento", "--client", "acme"], {"acme-shop"}),
        (["--client", "acme"], {"acme-shop", "acme-blog"}),
    ],
)
def test_tags_and_clients_filter_the_report(
    capsys: pytest.CaptureFixture[str], config: Path, store: Path, argv: list[str], sites: set[str]
) -> None:
    """``--tag`` and ``--client`` narrow the sites, alone or together."""
    code, out, err = run(capsys, "report", "-c", str(config), "--month", "2026-11", "--format", "json", *argv)
    assert code == 0, err
    assert {s["site"] for s in json.loads(out)["sites"]} == sites


def test_all_clients_writes_one_file_each_with_nothing_of_the_others(
    capsys: pytest.CaptureFixture[str], config: Path, store: Path, tmp_path: Path
) -> None:
    """``--all-clients --out DIR``: a file per client with sites (none for the empty default), each its own."""
    out_dir = tmp_path / "mailing"
    code, out, err = run(
        capsys,
        "report",
        "-c",
        str(config),
        "--all-clients",
        "--out",
        str(out_dir),
        "--month",
        "2026-11",
        "--format",
        "html",
    )
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["acme-2026-11.html", "beta-2026-11.html"]
    assert out.split() == [str(out_dir / "acme-2026-11.html"), str(out_dir / "beta-2026-11.html")]
    for client, other in (("acme", "beta"), ("beta", "acme")):
        body = (out_dir / f"{client}-2026-11.html").read_text(encoding="utf-8")
        assert all(w in body for w in _words(client))
        assert not any(w in body for w in _words(other))
    assert "Beta Ltd: availability, November 2026" in (out_dir / "beta-2026-11.html").read_text(encoding="utf-8")


def test_bad_client_arguments_are_clear(capsys: pytest.CaptureFixture[str], config: Path, store: Path) -> None:
    """An unknown client lists the known ones; --all-clients needs --out."""
    code, _, err = run(capsys, "report", "-c", str(config), "--client", "acne", "--month", "2026-11")
    assert code == 3
    assert "no client 'acne'" in err
    assert "(clients: acme, beta, default)" in err
    code, _, err = run(capsys, "report", "-c", str(config), "--all-clients", "--month", "2026-11")
    assert code == 3
    assert "--all-clients and --out DIR go together" in err
