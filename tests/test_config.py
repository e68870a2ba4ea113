"""Config loading: inheritance, includes, substitution, and one clear line per error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sitewatch.config.loader import ConfigError, load_config

GOOD_SITE = """
sites:
  - name: shop
    url: https://shop.example.com/
"""


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(p) for p in info.value.problems]


BAD_CASES = [
    pytest.param(
        "sites:\n  - name: shop\n    url: [unclosed\n",
        4,
        "",
        "invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence on line 3)",
        id="yaml-syntax",
    ),
    pytest.param(
        GOOD_SITE + "    colour: blue\n", 4, "sites[0].colour", "unknown key (expected one of:", id="unknown-key"
    ),
    pytest.param(
        GOOD_SITE + "    checks:\n      - type: http\n        max_redirects: many\n",
        6,
        "sites[0].checks[0].max_redirects",
        "expected an integer, got 'many'",
        id="wrong-type",
    ),
    pytest.param(
        "defaults:\n  timeout: ten\n" + GOOD_SITE,
        2,
        "defaults.timeout",
        "expected a duration like 10s, 5m or 26h, got 'ten'",
        id="bad-duration",
    ),
    pytest.param(
        GOOD_SITE + "    checks:\n      - type: http\n        max_body: huge\n",
        6,
        "sites[0].checks[0].max_body",
        "expected a size like 10MB or 2MiB, got 'huge'",
        id="bad-size",
    ),
    pytest.param("sites:\n  - name: shop\n", 2, "sites[0].url", "required key is missing", id="missing-url"),
    pytest.param(
        GOOD_SITE + "  - name: shop\n    url: https://other.example.com/\n",
        4,
        "sites[1].name",
        "duplicate site name 'shop' (first defined at",
        id="duplicate-site",
    ),
    pytest.param(
        GOOD_SITE + "    checks:\n      - type: http\n        not_contains: [{regex: 'DB (query'}]\n",
        6,
        "sites[0].checks[0].not_contains[0].regex",
        "expected a valid regular expression",
        id="invalid-regex",
    ),
    pytest.param(
        GOOD_SITE + "    checks:\n      - type: http\n        bearer_token: ${SITEWATCH_TEST_UNSET}\n",
        6,
        "sites[0].checks[0].bearer_token",
        "environment variable SITEWATCH_TEST_UNSET is not set",
        id="unset-env",
    ),
    pytest.param("include: [sites.d/missing.yaml]\n", 1, "include[0]", "no such file", id="missing-include"),
    pytest.param("", 1, "", "file is empty", id="empty-file"),
    pytest.param(
        GOOD_SITE + "    interval: -5s\n",
        4,
        "sites[0].interval",
        "expected a positive duration like 10s, got '-5s'",
        id="negative-interval",
    ),
    pytest.param(GOOD_SITE + "    interval: 0s\n", 4, "sites[0].interval", "greater than 0", id="zero-interval"),
    pytest.param(
        GOOD_SITE + "    checks:\n      - type: htp\n",
        5,
        "sites[0].checks[0].type",
        "unknown check type 'htp' (installed:",
        id="unknown-check-type",
    ),
    pytest.param(
        GOOD_SITE + "    checks:\n      - type: http\n      - type: http\n",
        6,
        "sites[0].checks[1]",
        "duplicate check name 'http'",
        id="duplicate-check-name",
    ),
    pytest.param(
        GOOD_SITE + "    timeout: 2m\n    interval: 1m\n",
        4,
        "sites[0].timeout",
        "timeout (120s) must not exceed interval (60s)",
        id="timeout-over-interval",
    ),
    pytest.param("agent:\n  listen: 9879\n" + GOOD_SITE, 2, "agent.listen", "expected host:port", id="bad-listen"),
    pytest.param(
        "sites:\n  - name: shop\n    url: ftp://files.example.com/\n",
        3,
        "sites[0].url",
        "expected a URL like https://shop.example.com/",
        id="bad-url-scheme",
    ),
    pytest.param(GOOD_SITE + "  - name: shop\n", 4, "sites[1].url", "required key is missing", id="second-site"),
    pytest.param("sites:\n  - name: a\n    name: b\n", 3, "sites[0].name", "duplicate key", id="duplicate-key"),
    pytest.param(
        GOOD_SITE + "    sla: 150\n",
        4,
        "sites[0].sla",
        "expected an SLA target in percent above 0 and at most 100, like 99.9, got 150",
        id="sla-over-100",
    ),
    pytest.param("defaults:\n  sla: 0\n" + GOOD_SITE, 2, "defaults.sla", "above 0 and at most 100", id="sla-zero"),
    pytest.param(GOOD_SITE + "    sla: high\n", 4, "sites[0].sla", "got 'high'", id="sla-not-a-number"),
]


@pytest.mark.parametrize(("text", "line", "path", "message"), BAD_CASES)
def test_bad_config_names_file_line_key_and_expectation(
    tmp_path: Path, text: str, line: int, path: str, message: str
) -> None:
    """Each kind of bad input yields `FILE:LINE: key.path: what was expected`."""
    config = write(tmp_path, text)
    found = problems(config)
    prefix = f"{config}:{line}: " + (f"{path}: " if path else "")
    assert any(p.startswith(prefix) and message in p for p in found), found


def test_every_error_is_reported_not_only_the_first(tmp_path: Path) -> None:
    """Errors in several sites and sections come back together, in file order."""
    config = write(
        tmp_path,
        """
        defaults:
          timeout: ten
        sites:
          - name: a
            url: nope
          - name: b
            url: https://b.example.com/
            checks:
              - type: http
                expect_status: ["6xx"]
        """,
    )
    found = problems(config)
    assert len(found) == 3, found
    assert [int(p.split(":")[1]) for p in found] == sorted(int(p.split(":")[1]) for p in found)


def test_secrets_are_never_echoed_in_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad value that came from ${ENV} is described, not printed."""
    monkeypatch.setenv("SITEWATCH_TEST_SECRET", "hunter2-very-secret")
    config = write(
        tmp_path,
        GOOD_SITE + "    checks:\n      - type: http\n        max_redirects: ${SITEWATCH_TEST_SECRET}\n",
    )
    text = "\n".join(problems(config))
    assert "sites[0].checks[0].max_redirects" in text
    assert "hunter2" not in text


def test_inheritance_defaults_then_site_then_check(tmp_path: Path) -> None:
    """interval/timeout come from the check, else the site, else defaults."""
    config = load_config(
        write(
            tmp_path,
            """
            defaults: {interval: 2m, timeout: 20s}
            sites:
              - name: a
                url: https://a.example.com/
                interval: 30s
                checks:
                  - type: http
                  - type: http
                    name: api
                    url: /api/health
                    timeout: 500ms
              - name: b
                url: https://b.example.com/
            """,
        )
    )
    timing = {c.key: (c.interval, c.timeout) for c in config.checks}
    assert timing == {("a", "http"): (30.0, 20.0), ("a", "api"): (30.0, 0.5), ("b", "http"): (120.0, 20.0)}


def test_includes_and_substitution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`include:` globs add one site per file; ${ENV} and ${file:} fill secrets."""
    monkeypatch.setenv("SITEWATCH_TEST_TOKEN", "tok-123")
    (tmp_path / "secret").write_text("pa55\n", encoding="utf-8")
    write(tmp_path, "name: blog\nurl: https://blog.example.com/\n", "sites.d/blog.yaml")
    write(
        tmp_path,
        "sites:\n  - name: wiki\n    url: https://wiki.example.com/\n"
        "    checks:\n      - type: http\n        basic_auth: {username: ops, password: '${file:../secret}'}\n",
        "sites.d/more.yaml",
    )
    config = load_config(
        write(
            tmp_path,
            GOOD_SITE + "    checks:\n      - type: http\n        bearer_token: ${SITEWATCH_TEST_TOKEN}\n"
            "include: ['sites.d/*.yaml']\n",
        )
    )
    assert [s.info.name for s in config.sites] == ["shop", "blog", "wiki"]
    shop, _, wiki = config.sites
    assert shop.checks[0].settings.bearer_token == "tok-123"  # type: ignore[attr-defined]
    assert wiki.checks[0].settings.basic_auth.password == "pa55"  # type: ignore[attr-defined]


@pytest.mark.parametrize("ref", ["${CREDS}/token", "$CREDS/token", "${ CREDS }/token"])
def test_file_path_expands_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ref: str) -> None:
    """`${file:${CREDENTIALS_DIRECTORY}/x}`, the systemd spelling, reads the credential (braces nest once)."""
    (tmp_path / "token").write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("CREDS", str(tmp_path))
    path = write(tmp_path, GOOD_SITE + f"    checks:\n      - type: http\n        bearer_token: '${{file:{ref}}}'\n")
    assert load_config(path).sites[0].checks[0].settings.bearer_token == "s3cret"  # type: ignore[attr-defined]


def test_unset_variable_in_file_path_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset variable inside a file reference is reported by name, with the line."""
    monkeypatch.delenv("SITEWATCH_NOPE", raising=False)
    path = write(
        tmp_path, GOOD_SITE + "    checks:\n      - type: http\n        bearer_token: ${file:${SITEWATCH_NOPE}/t}\n"
    )
    found = problems(path)
    assert any(
        ":6: sites[0].checks[0].bearer_token: environment variable SITEWATCH_NOPE is not set" in p for p in found
    ), found


def test_errors_in_included_files_point_into_that_file(tmp_path: Path) -> None:
    """An included file's error names the included file and its own line."""
    inc = write(tmp_path, "name: blog\nurl: https://blog.example.com/\ninterval: soon\n", "sites.d/blog.yaml")
    config = write(tmp_path, GOOD_SITE + "include: ['sites.d/*.yaml']\n")
    found = problems(config)
    assert any(p.startswith(f"{inc}:3: sites[1].interval: expected") for p in found), found


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped config.example.yaml passes validation (with its secrets provided)."""
    root = Path(__file__).resolve().parent.parent
    monkeypatch.setenv("SHOP_BASIC_AUTH_PASSWORD", "example")
    monkeypatch.setenv("STATUS_API_TOKEN", "example")
    monkeypatch.setenv("SHOP_BACKUP_TOKEN", "example")
    monkeypatch.setenv("SHOP_BACKUP_PING_TOKEN", "0123456789abcdef0123")
    monkeypatch.setenv("WEBHOOK_SECRET", "example")
    monkeypatch.setenv("REDMINE_API_KEY", "example")
    monkeypatch.setenv("SMTP_PASSWORD", "example")
    monkeypatch.setenv("JIRA_API_TOKEN", "example")
    monkeypatch.setenv("RT_TOKEN", "example")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:example")
    monkeypatch.setenv("WORDFENCE_API_KEY", "example")
    config = load_config(root / "config.example.yaml")
    assert len(config.sites) >= 2
    assert {c.type for c in config.checks} == {
        "http",
        "tls",
        "pageload",
        "backup",
        "heartbeat",
        "cms",
        "tcp",
        "dns",
        "domain",
    }


def test_world_writable_config_is_refused(tmp_path: Path) -> None:
    """The agent refuses a config anyone could edit (it holds ticket credentials and probe targets)."""
    config = write(tmp_path, GOOD_SITE)
    config.chmod(0o666)
    (problem,) = problems(config)
    assert problem.startswith(f"{config}:1: file is world-writable")
    assert f"chmod o-w {config}" in problem


def test_sla_target_from_site_else_defaults(tmp_path: Path) -> None:
    """`sla:` is a percentage; a site's own target wins over defaults:, "99.9%" is accepted too."""
    config = load_config(
        write(
            tmp_path,
            """
            defaults:
              sla: 99.5
            sites:
              - {name: a, url: https://a.example.com/, sla: "99.95%"}
              - {name: b, url: https://b.example.com/}
            """,
        )
    )
    assert [s.sla for s in config.sites] == [99.95, 99.5]
    assert load_config(write(tmp_path, GOOD_SITE)).sites[0].sla is None


@pytest.mark.parametrize("url", ["https://shop.example.com:hop.example.com/", "https://[::1/", "ftp://x/", "shop"])
def test_site_url_must_be_a_readable_http_url(tmp_path: Path, url: str) -> None:
    """A site URL yarl cannot read, or one that is not http(s), is a located error, not a traceback."""
    found = problems(write(tmp_path, f"sites:\n  - name: shop\n    url: '{url}'\n"))
    assert any(":3: sites[0].url: expected a URL like https://shop.example.com/" in p for p in found), found
