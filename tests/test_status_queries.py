"""Read-only store queries behind the status page and API, and ticket references kept per sink."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sitewatch.incidents.state import IncidentEvent
from sitewatch.probe import Status
from sitewatch.store.database import Store
from sitewatch.store.queries import history, incidents
from sitewatch.tickets import SinkError
from sitewatch.tickets.outbox import Deliverer

LOG = logging.getLogger("sitewatch.test")


class Desk:
    """A sink that numbers its tickets with its own prefix and records every call."""

    def __init__(self, name: str, *, broken: bool = False) -> None:
        self.name = name
        self.broken = broken
        self.calls: list[tuple[str, str]] = []
        self.count = 0

    async def find_open(self, key: str) -> str | None:
        if self.broken:
            raise SinkError("HTTP 400: no such project", permanent=True)
        return None

    async def open(self, payload: dict[str, Any]) -> str:
        self.count += 1
        ref = f"{self.name.upper()}-{self.count}"
        self.calls.append(("open", ref))
        return ref

    async def update(self, ref: str, payload: dict[str, Any]) -> None:
        self.calls.append(("update", ref))

    async def resolve(self, ref: str, payload: dict[str, Any]) -> None:
        self.calls.append(("resolve", ref))


def transition(store: Store, kind: str, at: float, key: str = "sw:v1:shop:http", sinks: tuple[str, ...] = ()) -> None:
    severity = None if kind == "resolved" else Status.CRITICAL
    event = IncidentEvent(kind, at, severity, f"HTTP 503 <{kind}>", at)  # type: ignore[arg-type]
    site, check = key.split(":")[2:]
    payload = {"key": key, "event": kind, "at": at, "opened_at": at, "summary": event.summary}
    store.record(key, event, site=site, check=check, sinks=sinks, payload=payload)


async def test_each_sink_resolves_its_own_ticket(tmp_path: Path) -> None:
    """With two sinks, each one's resolve carries the reference it returned on open, not the other's."""
    store = Store(tmp_path / "s.db")
    redmine, local = Desk("redmine"), Desk("local")
    deliverer = Deliverer(store, {"redmine": redmine, "local": local}, LOG)
    transition(store, "opened", 1000.0, sinks=("redmine", "local"))
    await deliverer.drain_once()
    transition(store, "resolved", 2000.0, sinks=("redmine", "local"))
    await deliverer.drain_once()
    assert redmine.calls == [("open", "REDMINE-1"), ("resolve", "REDMINE-1")]
    assert local.calls == [("open", "LOCAL-1"), ("resolve", "LOCAL-1")]
    (row,) = incidents(store)
    assert {(t.sink, t.ref, t.delivery) for t in row.tickets} == {
        ("redmine", "REDMINE-1", "delivered"),
        ("local", "LOCAL-1", "delivered"),
    }


async def test_incident_rows_show_pending_and_dead_deliveries(tmp_path: Path) -> None:
    """A sink that refuses for good shows as dead with its error; an action not delivered yet as pending."""
    store = Store(tmp_path / "s.db")
    transition(store, "opened", 1000.0, sinks=("jira", "redmine"))
    await Deliverer(store, {"jira": Desk("jira", broken=True), "redmine": Desk("redmine")}, LOG).drain_once()
    transition(store, "worsened", 1100.0, sinks=("redmine",))
    (row,) = incidents(store, "open")
    links = {t.sink: t for t in row.tickets}
    assert (links["jira"].delivery, links["jira"].ref) == ("dead", None)
    assert links["jira"].last_error == "HTTP 400: no such project"
    assert (links["redmine"].delivery, links["redmine"].ref, links["redmine"].pending) == ("pending", "REDMINE-1", 1)


def test_incident_filters_order_and_limit(tmp_path: Path) -> None:
    """Open ones first (newest first), then resolved by resolution time; state and limit filter."""
    store = Store(tmp_path / "s.db")
    transition(store, "opened", 100.0, key="sw:v1:a:http")
    transition(store, "resolved", 300.0, key="sw:v1:a:http")
    transition(store, "opened", 150.0, key="sw:v1:b:http")
    transition(store, "resolved", 200.0, key="sw:v1:b:http")
    transition(store, "opened", 400.0, key="sw:v1:c:http")
    transition(store, "opened", 500.0, key="sw:v1:d:tls")
    assert [r.site for r in incidents(store)] == ["d", "c", "a", "b"]
    assert [r.site for r in incidents(store, "open")] == ["d", "c"]
    assert [r.site for r in incidents(store, "resolved")] == ["a", "b"]
    assert [r.site for r in incidents(store, "all", limit=3)] == ["d", "c", "a"]
    (d,) = incidents(store, "open", limit=1)
    assert (d.check, d.severity, d.resolved_at, d.tickets) == ("tls", "critical", None, ())


def test_history_keeps_the_newest_rows_and_says_when_it_cut(tmp_path: Path) -> None:
    """A limit keeps the newest runs, oldest first, and flags the cut; the window bounds both ends."""
    store = Store(tmp_path / "s.db")
    store.append_history([("shop", "http", float(t), "ok", t / 100) for t in range(10)])
    store.append_history([("other", "http", 5.0, "critical", 1.0)])
    rows, cut = history(store, "shop", 2.0, 8.0, limit=100)
    assert [r.at for r in rows] == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert not cut
    rows, cut = history(store, "shop", 0.0, 100.0, limit=3)
    assert [(r.check, r.at, r.status) for r in rows] == [("http", 7.0, "ok"), ("http", 8.0, "ok"), ("http", 9.0, "ok")]
    assert cut


def test_reader_sees_committed_rows_and_cannot_write(tmp_path: Path) -> None:
    """The status page's second connection reads what the agent committed and refuses every write."""
    store = Store(tmp_path / "s.db")
    reader = Store.open_readonly(tmp_path / "s.db")
    store.append_history([("shop", "http", 1.0, "ok", 0.1)])
    assert reader.history("shop", 0.0) == [("http", 1.0, "ok", 0.1)]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.db.execute("DELETE FROM results")
    reader.close()
    store.close()


def test_local_tickets_carry_their_own_status(tmp_path: Path) -> None:
    """The local sink's ticket shows open, then acked after `sitewatch tickets ack`; other sinks have no status."""
    store = Store(tmp_path / "s.db")
    transition(store, "opened", 1000.0, sinks=("local", "redmine"))
    store.db.execute(
        "INSERT INTO tickets (id, key, title, body, priority, status, created_at, updated_at)"
        " VALUES (7, 'sw:v1:shop:http', 't', 'b', 'P2', 'open', 1000, 1000)"
    )
    for row in store.due(2000.0):
        store.delivered(row, "7" if row.sink == "local" else "RM-5")
    links = {t.sink: t for t in incidents(store)[0].tickets}
    assert (links["local"].ref, links["local"].status) == ("7", "open")
    assert (links["redmine"].ref, links["redmine"].status) == ("RM-5", None)
    store.db.execute("UPDATE tickets SET status = 'acked' WHERE id = 7")
    assert {t.sink: t.status for t in incidents(store)[0].tickets}["local"] == "acked"
