"""Secrets interpolated into the wrong places never reach a config error message.

tests/test_config_fuzz.py fuzzes document shapes and line edits; this module aims at the leak path:
a ``${SECRET}`` reference moved into any value of the example config, where it fails validation
(a secret as an interval, a URL, a list...). Errors must stay located and must not quote it.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitewatch.config.loader import ConfigError, load_config
from sitewatch.config.specs import Config

EXAMPLE = (Path(__file__).resolve().parents[2] / "config.example.yaml").read_text(encoding="utf-8").splitlines()
SECRETS = {
    "SHOP_BASIC_AUTH_PASSWORD": "s3cr3t-basic-auth-4471",
    "STATUS_API_TOKEN": "s3cr3t-status-token-9920",
    "SHOP_BACKUP_TOKEN": "s3cr3t-backup-token-1234",
    "SHOP_BACKUP_PING_TOKEN": "s3cr3tping0123456789abcdef012",
    "WEBHOOK_SECRET": "s3cr3t-hook-5150",
    "REDMINE_API_KEY": "s3cr3t-redmine-3301",
    "JIRA_API_TOKEN": "s3cr3t-jira-1187",
    "RT_TOKEN": "s3cr3t-rt-6620",
    "WORDFENCE_API_KEY": "s3cr3t-wordfence-7781",
    "SMTP_PASSWORD": "s3cr3t-smtp-2093",
    "TELEGRAM_BOT_TOKEN": "123456:s3cret-telegram-7781",
}
_VALUE = re.compile(r"^(\s*(?:- )?([A-Za-z_][\w-]*):[ \t]+)(\S.*)$")
#: Lines of the example holding ``key: value``: every place a value can be replaced.
SLOTS = [i for i, line in enumerate(EXAMPLE) if (m := _VALUE.match(line)) and not line.lstrip().startswith("#")]
#: ``type:`` discriminators echo unknown values; their own test below checks that a secret there is not quoted back.
TYPE_SLOTS = [i for i in SLOTS if _VALUE.match(EXAMPLE[i]).group(2) == "type"]  # type: ignore[union-attr]
shapes = st.sampled_from(["${%s}", "x${%s}", "${%s}s", "[${%s}]", "{a: ${%s}}", "'${%s} ${%s}'", "${%s}:"])


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def load(lines: list[str]) -> list[str]:
    """Load the edited example; the problem strings (empty when it is valid). Any other exception fails the test."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            assert isinstance(load_config(path), Config)
        except ConfigError as exc:
            problems = [str(p) for p in exc.problems]
            assert problems, "a ConfigError must carry at least one problem"
            for problem in problems:
                assert problem.startswith(f"{path}:"), problem
                assert re.match(rf"{re.escape(str(path))}:\d+: ", problem), problem
            return problems
    return []


def with_secret(slot: int, shape: str, variable: str) -> list[str]:
    """The example with the value on line ``slot`` replaced by a secret reference of the given shape."""
    lines = list(EXAMPLE)
    match = _VALUE.match(lines[slot])
    assert match is not None
    lines[slot] = match.group(1) + shape.replace("%s", variable)
    return lines


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    slot=st.sampled_from([i for i in SLOTS if i not in TYPE_SLOTS]),
    shape=shapes,
    variable=st.sampled_from(sorted(SECRETS)),
)
def test_secret_in_any_value_never_appears_in_errors(slot: int, shape: str, variable: str) -> None:
    """A secret moved into any (non-``type``) value: the config loads or fails with located, secret-free errors."""
    for problem in load(with_secret(slot, shape, variable)):
        assert not any(secret in problem for secret in SECRETS.values()), problem


def test_the_unedited_example_loads() -> None:
    """The baseline the mutations start from is valid, so every error above comes from the edit."""
    assert load(EXAMPLE) == []
    assert len(SLOTS) > 100
    assert TYPE_SLOTS


@pytest.mark.parametrize("slot", TYPE_SLOTS[:1] + TYPE_SLOTS[-1:])
def test_secret_as_a_type_never_appears_in_errors(slot: int) -> None:
    """A secret reference written as a check's or sink's ``type`` is not quoted back in the error."""
    problems = load(with_secret(slot, "${%s}", "STATUS_API_TOKEN"))
    assert problems
    assert not any(SECRETS["STATUS_API_TOKEN"] in problem for problem in problems), problems
