"""Process-wide tuning of the real agent: the event loop it runs on and the frozen garbage collector."""

from __future__ import annotations

import asyncio
import importlib
import logging
import types
from pathlib import Path
from typing import Any

import pytest

from sitewatch import agent as agent_module
from sitewatch.agent import Agent
from sitewatch.cli import loop_factory
from sitewatch.config import load_config
from tests.test_agent_metrics import free_port, write_config

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


@pytest.mark.parametrize("freeze", [False, True])
async def test_gc_freeze_after_each_applied_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, freeze: bool
) -> None:
    """With freeze_gc (sitewatch run), start and every reload collect the young objects, then freeze them."""
    calls: list[str] = []
    fake_gc = types.SimpleNamespace(
        unfreeze=lambda: calls.append("unfreeze"),
        collect=lambda: calls.append("collect"),
        freeze=lambda: calls.append("freeze"),
    )
    monkeypatch.setattr(agent_module, "gc", fake_gc)  # the real one would freeze pytest itself
    path = write_config(tmp_path / "config.yaml", "http://127.0.0.1:9/", f"127.0.0.1:{free_port()}")
    agent = Agent(load_config(path), LOG, freeze_gc=freeze)
    await agent.start()
    try:
        assert agent.reload()
    finally:
        await agent.close()
    assert calls == (["collect", "freeze"] * 2 if freeze else [])
