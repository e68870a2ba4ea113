"""The SLA life of an incident in the store: one change per real change, pauses, resolve ends it."""

from __future__ import annotations

from pathlib import Path

from sitewatch.incidents.state import IncidentEvent
from sitewatch.probe import Status
from sitewatch.store import life as life_store
from sitewatch.store.database import Store

KEY = "sw:v1:shop:http"


def _open(store: Store, at: float = 1000.0) -> int:
    event = IncidentEvent("opened", at, Status.CRITICAL, "HTTP 503", at)
    return store.record(KEY, event, site="shop", check="http", sinks=["desk"], payload={"key": KEY})


def test_ack_is_recorded_once(tmp_path: Path) -> None:
    """A second acknowledgement (a desk read back twice, two people) changes nothing."""
    store = Store(tmp_path / "s.db")
    incident = _open(store)
    assert life_store.change(store, incident, "ack", at=1100.0, by="anna", source="local")
    assert not life_store.change(store, incident, "ack", at=1200.0, by="boris", source="telegram")
    state = life_store.life(store, incident)
    assert (state.acked_at, state.acked_by) == (1100.0, "anna")
    assert [e.kind for e in state.events] == ["ack"]


def test_wait_and_resume_make_pauses(tmp_path: Path) -> None:
    """Waiting opens a pause (and counts as the response); resume closes it; repeats are no-ops."""
    store = Store(tmp_path / "s.db")
    incident = _open(store)
    assert life_store.change(store, incident, "wait", at=1500.0, by="anna", reason="asked for FTP access")
    assert not life_store.change(store, incident, "wait", at=1600.0, by="anna")
    state = life_store.life(store, incident)
    assert state.waiting
    assert state.acked_at == 1500.0
    assert life_store.change(store, incident, "resume", at=1800.0, by="anna")
    assert not life_store.change(store, incident, "resume", at=1900.0, by="anna")
    state = life_store.life(store, incident)
    assert not state.waiting
    assert state.pauses == ((1500.0, 1800.0),)
    assert state.events[-1].source == "local"
    assert state.events[1].reason == "asked for FTP access"


def test_resolved_incident_takes_no_change(tmp_path: Path) -> None:
    """After the resolve nothing is recorded; an unknown incident neither."""
    store = Store(tmp_path / "s.db")
    incident = _open(store)
    store.record(
        KEY,
        IncidentEvent("resolved", 2000.0, None, "HTTP 200", 1000.0),
        site="shop",
        check="http",
        sinks=["desk"],
        payload={"key": KEY},
    )
    assert not life_store.change(store, incident, "ack", at=2100.0, by="anna")
    assert not life_store.change(store, 999, "ack", at=2100.0, by="anna")
    assert life_store.life(store, incident).acked_at is None
    assert life_store.open_incident_id(store, KEY) is None
