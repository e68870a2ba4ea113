"""Process-wide tuning of the real agent: the event loop it runs on and the frozen garbage collector."""

from __future__ import annotations

import asyncio
import importlib
import logging
import types
from pathlib import Path
from typing import Any

import pytest

from sitewatch import runtime
from sitewatch.agent import Agent
from sitewatch.config.loader import load_config
from sitewatch.runtime import loop_factory
from tests.helpers import free_port, running_agent
from tests.test_agent_metrics import write_config

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


def fake_gc(calls: list[str]) -> types.SimpleNamespace:
    """A stand-in for the gc module that records calls (the real one would freeze pytest itself)."""
    state = {"enabled": True}

    def record(name: str, enabled: bool | None = None) -> Any:
        def call() -> Any:
            calls.append(name)
            if enabled is not None:
                state["enabled"] = enabled
            return state["enabled"] if name == "isenabled" else None

        return call

    def set_threshold(*values: int) -> None:
        calls.append(f"set_threshold{values}")

    return types.SimpleNamespace(
        get_threshold=lambda: (700, 10, 10),
        set_threshold=set_threshold,
        unfreeze=record("unfreeze"),
        collect=record("collect"),
        freeze=record("freeze"),
        isenabled=record("isenabled"),
        disable=record("disable", False),
        enable=record("enable", True),
    )


@pytest.mark.parametrize("freeze", [False, True])
async def test_gc_freeze_after_each_applied_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, freeze: bool
) -> None:
    """With freeze_gc (sitewatch run), start and every reload collect the young objects, then freeze them.

    A reload runs with the collector paused, and it is on again afterwards. The young generation
    is collected every 20,000 allocations instead of 700 (the older thresholds are kept).
    """
    calls: list[str] = []
    monkeypatch.setattr(runtime, "gc", fake_gc(calls))
    path = write_config(tmp_path / "config.yaml", "http://127.0.0.1:9/", f"127.0.0.1:{free_port()}")
    async with running_agent(path, freeze_gc=freeze) as agent:
        assert agent.reload()
    young = "set_threshold(20000, 10, 10)"
    paused_reload = ["isenabled", "disable", "collect", "freeze", young, "enable"]
    assert calls == (["collect", "freeze", young, *paused_reload] if freeze else [])


async def test_a_failed_reload_turns_the_collector_back_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid file: the running config stays, nothing is frozen, and the collector runs again."""
    calls: list[str] = []
    monkeypatch.setattr(runtime, "gc", fake_gc(calls))
    path = write_config(tmp_path / "config.yaml", "http://127.0.0.1:9/", f"127.0.0.1:{free_port()}")
    async with running_agent(path, freeze_gc=True) as agent:
        running = agent.config
        calls.clear()
        path.write_text(path.read_text(encoding="utf-8") + "    colour: blue\n", encoding="utf-8")
        assert agent.reload() is False
        assert agent.config is running
    assert calls == ["isenabled", "disable", "enable"]


async def test_a_reload_keeps_unchanged_checks_as_they_run(tmp_path: Path) -> None:
    """Only the changed site gets new objects; the other's spec and check instance are the running ones."""
    path = write_config(tmp_path / "config.yaml", "http://127.0.0.1:9", f"127.0.0.1:{free_port()}")
    agent = Agent(load_config(path), LOG)
    await agent.start()
    try:
        before = {c.key: c for c in agent.config.checks}
        instances = {id(c) for c in agent.scheduler.checks()}
        path.write_text(path.read_text(encoding="utf-8").replace("9/bad", "9/worse"), encoding="utf-8")
        assert agent.reload()
        after = {c.key: c for c in agent.config.checks}
        assert after["good", "http"] is before["good", "http"]
        assert after["bad", "http"] is not before["bad", "http"]
        assert str(after["bad", "http"].site.url) == "http://127.0.0.1:9/worse"
        kept = [c for c in agent.scheduler.checks() if id(c) in instances]
        assert [c.site.name for c in kept] == ["good"]
    finally:
        await agent.close()
