"""The agent runs on asyncio's loop unless SITEWATCH_LOOP=uvloop asks for uvloop."""

from __future__ import annotations

import asyncio
import importlib
import logging
import types
from typing import Any

import pytest

from sitewatch.cli import loop_factory

LOG = logging.getLogger("sitewatch.test")


def test_asyncio_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable, or any other value: asyncio's own loop (None = asyncio.Runner's default)."""
    monkeypatch.delenv("SITEWATCH_LOOP", raising=False)
    assert loop_factory(LOG) is None
    monkeypatch.setenv("SITEWATCH_LOOP", "asyncio")
    assert loop_factory(LOG) is None


def test_uvloop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """SITEWATCH_LOOP=uvloop uses uvloop's factory when importable."""
    fake = types.SimpleNamespace(new_event_loop=asyncio.new_event_loop)
    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", lambda name: fake if name == "uvloop" else real(name))
    monkeypatch.setenv("SITEWATCH_LOOP", "uvloop")
    assert loop_factory(LOG) is asyncio.new_event_loop


def test_uvloop_missing_falls_back(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Asked for but not installed: a warning and asyncio's loop, never a crash."""

    def missing(name: str) -> Any:
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", missing)
    monkeypatch.setenv("SITEWATCH_LOOP", "uvloop")
    with caplog.at_level(logging.WARNING, logger="sitewatch.test"):
        assert loop_factory(LOG) is None
    assert "uvloop_missing" in caplog.text
