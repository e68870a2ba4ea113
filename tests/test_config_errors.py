"""Config errors all at once: a check's bad common keys do not hide its other errors; "did you mean"."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sitewatch.config.loader import ConfigError, load_config


def _problems(tmp_path: Path, text: str) -> tuple[Path, list[str]]:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return path, [str(p) for p in info.value.problems]


def test_bad_timeout_and_two_key_typos_give_three_errors(tmp_path: Path) -> None:
    """`timeout: ten` in a check no longer hides `expect_statuss:` and `contians:`: three located errors."""
    path, found = _problems(
        tmp_path,
        """
        sites:
          - name: shop
            url: https://shop.example.com/
            checks:
              - type: http
                timeout: ten
                expect_statuss: [200]
                contians: ["</html>"]
        """,
    )
    assert len(found) == 3, found
    assert found[0].startswith(f"{path}:6: sites[0].checks[0].timeout: expected a duration"), found
    assert found[1].startswith(
        f"{path}:7: sites[0].checks[0].expect_statuss: unknown key; did you mean 'expect_status'?"
    )
    assert found[2].startswith(f"{path}:8: sites[0].checks[0].contians: unknown key; did you mean 'contains'?")


def test_typo_of_a_common_key_is_matched_against_common_keys(tmp_path: Path) -> None:
    """`intervall:` in a check suggests `interval`, a key validated apart from the check's own settings."""
    path, found = _problems(
        tmp_path,
        """
        sites:
          - name: shop
            url: https://shop.example.com/
            checks:
              - {type: http, intervall: 30s}
        """,
    )
    assert len(found) == 1, found
    assert "did you mean 'interval'?" in found[0], found
    assert found[0].startswith(f"{path}:5: sites[0].checks[0].intervall: unknown key"), found


def test_unrelated_unknown_key_gets_no_guess(tmp_path: Path) -> None:
    """A key like nothing valid lists the valid keys without a wrong guess."""
    _, found = _problems(tmp_path, "sites:\n  - name: shop\n    url: https://shop.example.com/\n    colour: blue\n")
    assert len(found) == 1, found
    assert "did you mean" not in found[0], found
    assert "expected one of:" in found[0], found


def test_url_without_scheme_suggests_https(tmp_path: Path) -> None:
    """A site URL written as a bare host name says which URL was probably meant."""
    path, found = _problems(tmp_path, "sites:\n  - name: shop\n    url: shop.example.com\n")
    assert found == [
        f"{path}:3: sites[0].url: expected a URL like https://shop.example.com/, got 'shop.example.com';"
        " did you mean https://shop.example.com/?"
    ]


def test_unknown_type_still_reports_other_common_errors(tmp_path: Path) -> None:
    """An unknown type and a bad interval in one check are both reported."""
    _, found = _problems(
        tmp_path,
        """
        sites:
          - name: shop
            url: https://shop.example.com/
            checks:
              - {type: htp, interval: soon}
        """,
    )
    assert len(found) == 2, found
    assert any("interval: expected a duration" in p for p in found), found
    assert any("type: unknown check type 'htp'" in p for p in found), found


def _load(tmp_path: Path, text: str) -> dict[tuple[str, str], tuple[float, float]]:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return {c.key: (c.interval, c.timeout) for c in load_config(path).checks}


def test_inherited_timeout_is_lowered_to_the_interval(tmp_path: Path) -> None:
    """As Prometheus does with scrape_timeout: the built-in 10s, or a defaults: timeout, under a shorter interval."""
    timing = _load(
        tmp_path,
        """
        defaults: {interval: 1s}
        sites:
          - name: a
            url: https://a.example.com/
            checks: [{type: http}, {type: tls, interval: 5s}]
          - name: b
            url: https://b.example.com/
            interval: 3s
          - name: c
            url: https://c.example.com/
            timeout: 30s
            checks: [{type: http, interval: 20s}]
        """,
    )
    assert timing == {
        ("a", "http"): (1.0, 1.0),  # built-in 10s, lowered to defaults' 1s
        ("a", "tls"): (5.0, 5.0),  # built-in 10s, lowered to the check's 5s
        ("b", "http"): (3.0, 3.0),  # lowered to the site's 3s
        ("c", "http"): (20.0, 20.0),  # the site's 30s, lowered to the check's own 20s
    }
    explicit = _load(tmp_path, "defaults: {interval: 5s, timeout: 2s}\nsites: [{name: a, url: 'https://a.example/'}]")
    assert explicit == {("a", "http"): (5.0, 2.0)}


def test_explicit_timeout_over_interval_is_one_error_at_its_line(tmp_path: Path) -> None:
    """A timeout set beside (or below) its interval is refused once, where it is written, not once per check."""
    path, found = _problems(
        tmp_path,
        """
        defaults:
          interval: 1s
          timeout: 10s
        sites:
          - name: a
            url: https://a.example.com/
            checks: [{type: http}, {type: tls}]
          - name: b
            url: https://b.example.com/
            checks:
              - type: http
                timeout: 2m
        """,
    )
    assert found == [
        f"{path}:3: defaults.timeout: timeout (10s) must not exceed interval (1s); an inherited timeout is"
        " lowered to the interval, an explicit one is refused",
        f"{path}:12: sites[1].checks[0].timeout: timeout (120s) must not exceed interval (1s set at {path}:2);"
        " an inherited timeout is lowered to the interval, an explicit one is refused",
    ]


def test_include_accepts_a_folder(tmp_path: Path) -> None:
    """`include: sites.d/` reads every *.yaml in the folder, in name order, and nothing else."""
    folder = tmp_path / "sites.d"
    folder.mkdir()
    (folder / "b.yaml").write_text("name: b\nurl: https://b.example.com/\n", encoding="utf-8")
    (folder / "a.yaml").write_text("name: a\nurl: https://a.example.com/\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not a site\n", encoding="utf-8")
    path = tmp_path / "config.yaml"
    path.write_text("include: [sites.d/]\n", encoding="utf-8")
    assert [s.info.name for s in load_config(path).sites] == ["a", "b"]
