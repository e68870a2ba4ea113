"""The config loader under random input: never a traceback, always file:line, never a secret."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitewatch.config.loader import ConfigError, load_config

EXAMPLE = (Path(__file__).resolve().parents[2] / "config.example.yaml").read_text(encoding="utf-8")
SECRETS = {
    "SHOP_BASIC_AUTH_PASSWORD": "s3cret-basic-5521",
    "STATUS_API_TOKEN": "s3cret-token-7734",
    "SHOP_BACKUP_TOKEN": "s3cret-backup-9012",
    "SHOP_BACKUP_PING_TOKEN": "s3cretping0123456789abcdef",
    "WEBHOOK_SECRET": "s3cret-hook-4410",
    "REDMINE_API_KEY": "s3cret-redmine-3301",
    "JIRA_API_TOKEN": "s3cret-jira-1187",
    "RT_TOKEN": "s3cret-rt-6620",
    "WORDFENCE_API_KEY": "s3cr3t-wordfence-7781",
    "SMTP_PASSWORD": "s3cret-smtp-2093",
    "TELEGRAM_BOT_TOKEN": "123456:s3cret-telegram-7781",
}
KEYS = ["agent", "defaults", "sites", "name", "url", "checks", "type", "interval", "timeout", "http", "tls"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.text(max_size=12),
    st.sampled_from(["10s", "-1s", "5MB", "http"]),
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def check(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_config(path)
            problems: list[str] = []
        except ConfigError as exc:
            problems = [str(p) for p in exc.problems]
            assert problems, "a ConfigError must carry at least one problem"
        for problem in problems:
            assert re.match(rf"{re.escape(str(Path(tmp)))}/[^:]+:\d+: ", problem), problem
            assert not any(secret in problem for secret in SECRETS.values()), problem


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents)
def test_random_documents(document: Any) -> None:
    """Any YAML document loads or fails with located problems."""
    check(yaml.safe_dump(document))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_example(data: st.DataObject) -> None:
    """The example with lines dropped, duplicated or edited: located problems, and no secret leaks."""
    lines = EXAMPLE.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "dup", "edit", "indent"]))
        if action == "drop":
            del lines[i]
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "indent":
            lines[i] = "  " + lines[i]
        elif lines[i]:
            j = data.draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = (
                lines[i][:j] + data.draw(st.sampled_from([":", "-", "{", "x", " ", "5s", "'"])) + lines[i][j + 1 :]
            )
    check("\n".join(lines) + "\n")
