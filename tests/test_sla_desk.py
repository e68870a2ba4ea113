"""The ticket's life from the desks: the local CLI (ack, wait, resume) and status read-back from Redmine, RT and
Jira, with a desk outage that loses nothing.

Redmine and RT are the real ones `make test-integration` starts (.ci/redmine.sh, .ci/rt.sh); Jira is the
strict local emulator of tests/test_jira_sink.py, taught the changelog.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import logging
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sitewatch.config.tickets import StatusMap
from sitewatch.incidents.state import IncidentEvent
from sitewatch.probe import Status
from sitewatch.store.database import Store
from sitewatch.store.life import life
from sitewatch.store.sla import clocks
from sitewatch.tickets.desk_status import JiraStatus, RedmineStatus, RtStatus
from sitewatch.tickets.outbox import Deliverer
from sitewatch.tickets.readback import DeskReadBack, Watched
from sitewatch.tickets.redmine import RedmineSink
from sitewatch.tickets.rt import RtSink
from tests.helpers import send_in_pieces, serve
from tests.test_jira_sink import AUTH, FakeJira, sink
from tests.test_sinks import drain, payload, redmine, rt  # noqa: F401 - the real desks' fixtures

LOG = logging.getLogger("sitewatch.test")
SLA = {"response": 1800.0, "resolve": 8 * 3600.0}
MAP = StatusMap(acknowledged=("In Progress", "open"), waiting=("Feedback", "stalled", "Waiting for customer"))


def open_incident(store: Store, key: str, sink: str, at: float) -> int:
    """An incident with 24x7 SLA terms (P2: 30m / 8h) whose open goes to ``sink``."""
    event = IncidentEvent("opened", at, Status.CRITICAL, "HTTP 503", at)
    body = {**payload(key, "opened", at), "opened_at": at, "sla": SLA, "calendar": {}, "client": "acme"}
    return store.record(key, event, site="shop", check="http", sinks=[sink], payload=body)


# -- the local desk ---------------------------------------------------------------------------


async def _cli(config: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sitewatch.cli", "tickets", "-c", str(config), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_tickets_ack_wait_resume_drive_the_clock(tmp_path: Path) -> None:
    """`tickets ack` is the response, `wait --reason` stops the resolve clock, `resume` restarts it; list shows both."""
    store = Store(tmp_path / "sitewatch.db")
    opened = dt.datetime.now(dt.UTC).timestamp() - 60
    incident = open_incident(store, "sw:v1:shop:http", "local", opened)
    from sitewatch.tickets.local import LocalSink

    await drain(store, Deliverer(store, {"local": LocalSink(store)}, LOG))
    config = tmp_path / "config.yaml"
    config.write_text(f"agent:\n  state_dir: {tmp_path}\nsites: []\n", encoding="utf-8")
    code, _, err = await _cli(config, "wait", "1")
    assert (code, "needs --reason" in err) == (3, True)  # a wait needs its reason
    code, out, _ = await _cli(config, "ack", "1", "--by", "ivanov")
    assert (code, out.strip()) == (0, "ticket 1 is acked (acked by ivanov)")
    code, out, _ = await _cli(config, "wait", "1", "--reason", "FTP password from the client", "--by", "ivanov")
    assert (code, out.strip()) == (0, "ticket 1 is waiting (acked by ivanov)")
    code, out, _ = await _cli(config, "show", "1")
    assert "waiting for the client: FTP password from the client" in out
    assert "(paused)" in out
    code, out, _ = await _cli(config, "list")
    assert "(met)" in out  # the response
    assert "(paused)" in out  # the resolve
    code, out, _ = await _cli(config, "resume", "1", "--by", "ivanov")
    assert out.strip() == "ticket 1 is acked (acked by ivanov)"
    lived = life(store, incident)
    assert [(e.kind, e.by, e.source) for e in lived.events] == [
        ("ack", "ivanov", "local"), ("wait", "ivanov", "local"), ("resume", "ivanov", "local")
    ]  # fmt: skip
    assert lived.events[1].reason == "FTP password from the client"
    sla = clocks(store, [incident], dt.datetime.now(dt.UTC).timestamp())[incident]
    assert sla.clock.resolve.outcome == "running"
    assert sla.clock.resolve.deadline is not None
    assert sla.clock.resolve.deadline > opened + SLA["resolve"]  # moved on by the time spent waiting


# -- a desk outage loses nothing ---------------------------------------------------------------


async def test_a_desk_outage_loses_no_change_and_keeps_the_desks_times(tmp_path: Path) -> None:
    """Redmine answers 503 while the ticket goes Feedback and back; the next read records both at the journals' time."""
    opened = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC).timestamp()
    up = [False]
    issue = {
        "issue": {
            "id": 7,
            "status": {"id": 2, "name": "In Progress"},
            "author": {"id": 1, "name": "sitewatch"},
            "assigned_to": {"id": 3, "name": "Ivan Petrov"},
            "created_on": "2026-12-07T09:00:05Z",
            "journals": [
                {"created_on": t, "user": {"name": "Ivan Petrov"}, "details": [d]}
                for t, d in (
                    (
                        "2026-12-07T09:10:00Z",
                        {"property": "attr", "name": "status_id", "old_value": "1", "new_value": "4"},
                    ),
                    (
                        "2026-12-07T11:10:00Z",
                        {"property": "attr", "name": "status_id", "old_value": "4", "new_value": "2"},
                    ),
                )
            ],
            "description": "x" * 20_000,  # a real issue's size: the reader must take the whole body
        }
    }
    statuses = {"issue_statuses": [{"id": i, "name": n} for i, n in ((1, "New"), (2, "In Progress"), (4, "Feedback"))]}

    async def answer(request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Redmine-API-Key") != "k":
            return web.Response(status=401)
        if not up[0]:
            return web.Response(status=503, text="maintenance")
        document = statuses if request.path == "/issue_statuses.json" else issue
        return await send_in_pieces(request, json.dumps(document).encode(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/issues/7.json", answer)
    app.router.add_get("/issue_statuses.json", answer)
    store = Store(tmp_path / "s.db")
    incident = open_incident(store, "sw:v1:shop:http", "redmine", opened)
    store.db.execute("INSERT INTO ticket_refs (incident_id, sink, ref) VALUES (?, 'redmine', '7')", (incident,))
    async with serve(app) as url, aiohttp.ClientSession() as session:
        reader = RedmineStatus("redmine", session, url=url, api_key="k")
        back = DeskReadBack(store, {"redmine": Watched(reader, MAP, 60.0)}, LOG)
        assert await back.poll_once(opened + 3600) == 0  # down: nothing recorded, nothing lost
        up[0] = True
        assert await back.poll_once(opened + 4 * 3600) == 3  # ack (implied by the wait), wait, resume
        assert await back.poll_once(opened + 5 * 3600) == 0  # read once: a second read records nothing
    lived = life(store, incident)
    assert [(e.kind, e.at - opened, e.by, e.source) for e in lived.events] == [
        ("ack", 600.0, "Ivan Petrov", "redmine"),
        ("wait", 600.0, "Ivan Petrov", "redmine"),
        ("resume", 7800.0, "Ivan Petrov", "redmine"),
    ]
    sla = clocks(store, [incident], opened + 5 * 3600)[incident]
    assert sla.clock.resolve.elapsed == 3 * 3600.0  # 5 h since the open, 2 h of them waiting


async def test_two_changes_in_one_second_read_in_two_rounds_are_both_recorded(tmp_path: Path) -> None:
    """Desks date to the second: a change in the same second as the last one read is told apart by its id."""
    opened = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC).timestamp()
    journals: list[dict[str, Any]] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        if request.path == "/issue_statuses.json":
            document: dict[str, Any] = {"issue_statuses": [{"id": 1, "name": "New"}, {"id": 2, "name": "In Progress"}]}
            document["issue_statuses"].append({"id": 4, "name": "Feedback"})
        else:
            issue = {"id": 7, "status": {"id": 1}, "created_on": "2026-12-07T09:00:05Z", "journals": journals}
            document = {"issue": {**issue, "author": {"name": "sitewatch"}, "assigned_to": {"name": "Anna"}}}
        return await send_in_pieces(request, json.dumps(document).encode(), content_type="application/json")

    def journal(number: int, old: str, new: str) -> dict[str, Any]:
        detail = {"property": "attr", "name": "status_id", "old_value": old, "new_value": new}
        return {"id": number, "created_on": "2026-12-07T09:10:00Z", "user": {"name": "Anna"}, "details": [detail]}

    app = web.Application()
    app.router.add_get("/issues/7.json", answer)
    app.router.add_get("/issue_statuses.json", answer)
    store = Store(tmp_path / "s.db")
    incident = open_incident(store, "sw:v1:shop:http", "redmine", opened)
    store.db.execute("INSERT INTO ticket_refs (incident_id, sink, ref) VALUES (?, 'redmine', '7')", (incident,))
    async with serve(app) as url, aiohttp.ClientSession() as session:
        reader = RedmineStatus("redmine", session, url=url, api_key="k")
        back = DeskReadBack(store, {"redmine": Watched(reader, MAP, 0.0)}, LOG)
        journals.append(journal(41, "1", "4"))
        assert await back.poll_once(opened + 3600) == 2  # ack and wait
        journals.append(journal(42, "4", "2"))  # the same second, read on the next round
        assert await back.poll_once(opened + 3601) == 1  # resume
    assert not life(store, incident).waiting


# -- Jira (the emulator) ------------------------------------------------------------------------


class ChangelogJira(FakeJira):
    """The emulator with ``expand=changelog``: every status move is a history entry, as Jira keeps them."""

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_post("/test/move/{key}", self.move)
        return app

    async def move(self, request: web.Request) -> web.Response:
        data = await request.json()
        issue = self.issues[request.match_info["key"]]
        history = {
            "created": data["at"],
            "author": {"displayName": data["by"]},
            "items": [{"field": "status", "fromString": issue["status"], "toString": data["to"]}],
        }
        issue.setdefault("histories", []).append(history)
        issue["status"], issue["assignee"] = data["to"], {"displayName": data["by"]}
        return web.Response(status=204)

    async def get(self, request: web.Request) -> web.Response:
        if request.query.get("expand") != "changelog":
            return await super().get(request)
        if not {"status", "assignee", "created"} <= set(request.query.get("fields", "").split(",")):
            return web.json_response({"errorMessages": ["fields must name what is read"]}, status=400)
        issue = self.issues[request.match_info["key"]]
        fields = {
            "status": {"name": issue["status"]},
            "assignee": issue.get("assignee"),
            "created": "2026-12-07T12:00:00.000+0300",
        }
        # Jira Server lists histories newest first: the reader must not rely on the order.
        changelog = {"histories": list(reversed(issue.get("histories", [])))}
        return web.json_response({"key": request.match_info["key"], "fields": fields, "changelog": changelog})


async def test_jira_waiting_for_customer_pauses_and_done_stops_the_clock(tmp_path: Path) -> None:
    """Jira moves: In Progress (ack by the assignee), Waiting for customer (pause), then Done (resolved in the desk)."""
    fake = ChangelogJira()
    opened = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC).timestamp()
    store = Store(tmp_path / "s.db")
    incident = open_incident(store, "sw:v1:shop:http", "jira", opened)
    async with serve(fake.app()) as url, aiohttp.ClientSession() as session:
        await drain(store, Deliverer(store, {"jira": sink(session, url)}, LOG))
        (ref,) = fake.issues
        for at, to in (("09:05", "In Progress"), ("09:30", "Waiting for customer"), ("10:30", "Done")):
            move = {"at": f"2026-12-07T{at}:00.000+0000", "to": to, "by": "Anna"}
            async with session.post(f"{url}/test/move/{ref}", json=move, headers={"Authorization": AUTH}) as resp:
                assert resp.status == 204
        reader = JiraStatus("jira", session, url=url, email="ops@example.com", api_token="tok")
        mapping = StatusMap(acknowledged=("In Progress",), waiting=("Waiting for customer",), resolved=("Done",))
        back = DeskReadBack(store, {"jira": Watched(reader, mapping, 60.0)}, LOG)
        assert await back.poll_once(opened + 4 * 3600) == 2  # the ack, the wait; Done while waiting changes nothing
    lived = life(store, incident)
    assert [(e.kind, e.at - opened, e.by) for e in lived.events] == [("ack", 300.0, "Anna"), ("wait", 1800.0, "Anna")]
    sla = clocks(store, [incident], opened + 4 * 3600)[incident]
    assert (sla.clock.response.outcome, sla.clock.resolve.outcome) == ("met", "paused")


# -- the real Redmine and RT ----------------------------------------------------------------------


@pytest.mark.slow
async def test_redmine_status_waiting_pauses_the_resolve_clock(
    tmp_path: Path,
    redmine: tuple[aiohttp.ClientSession, dict[str, Any]],  # noqa: F811 - the fixture
) -> None:
    """A real Redmine issue set to Feedback (mapped to waiting) and assigned: the clock pauses, by the assignee."""
    session, settings = redmine
    key = f"sw:v1:shop-{uuid.uuid4().hex[:8]}:http"
    store = Store(tmp_path / "s.db")
    opened = dt.datetime.now(dt.UTC).timestamp() - 120
    incident = open_incident(store, key, "redmine", opened)
    await drain(store, Deliverer(store, {"redmine": RedmineSink("redmine", session, **settings)}, LOG))
    (ref,) = [r[0] for r in store.db.execute("SELECT ref FROM ticket_refs WHERE sink = 'redmine'")]
    headers = {"X-Redmine-API-Key": settings["api_key"]}
    async with session.get(f"{settings['url']}/issue_statuses.json", headers=headers) as resp:
        feedback = next(s["id"] for s in (await resp.json())["issue_statuses"] if s["name"] == "Feedback")
    change = {"issue": {"status_id": feedback, "assigned_to_id": 1, "notes": "asked the client for FTP access"}}
    async with session.put(f"{settings['url']}/issues/{ref}.json", json=change, headers=headers) as resp:
        assert resp.status in (200, 204)
    reader = RedmineStatus("redmine", session, url=settings["url"], api_key=settings["api_key"])
    back = DeskReadBack(store, {"redmine": Watched(reader, MAP, 60.0)}, LOG)
    now = dt.datetime.now(dt.UTC).timestamp() + 1
    assert await back.poll_once(now) == 2  # the implied ack and the wait
    lived = life(store, incident)
    assert lived.waiting
    assert {e.by for e in lived.events} == {"Redmine Admin"}  # the assignee
    assert lived.events[1].reason == "redmine: Feedback"
    sla = clocks(store, [incident], now + 3600)[incident]
    assert (sla.clock.resolve.outcome, sla.clock.resolve.deadline) == ("paused", None)
    assert sla.clock.resolve.elapsed < 300  # an hour later the clock has not moved


@pytest.mark.slow
async def test_rt_stalled_pauses_and_open_resumes(
    tmp_path: Path,
    rt: tuple[aiohttp.ClientSession, dict[str, Any]],  # noqa: F811 - the fixture
) -> None:
    """A real RT ticket: stalled (waiting) then open (acknowledged): a pause, ended, with RT's transaction times."""
    session, settings = rt
    key = f"sw:v1:shop-{uuid.uuid4().hex[:8]}:http"
    store = Store(tmp_path / "s.db")
    opened = dt.datetime.now(dt.UTC).timestamp() - 120
    incident = open_incident(store, key, "rt", opened)
    await drain(store, Deliverer(store, {"rt": RtSink("rt", session, **settings)}, LOG))
    (ref,) = [r[0] for r in store.db.execute("SELECT ref FROM ticket_refs WHERE sink = 'rt'")]
    token = base64.b64encode(f"{settings['username']}:{settings['password']}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    for status in ("stalled", "open"):
        async with session.put(f"{settings['url']}/REST/2.0/ticket/{ref}", json={"Status": status}, headers=headers):
            pass
    auth = {"username": settings["username"], "password": settings["password"]}
    back = DeskReadBack(store, {"rt": Watched(RtStatus("rt", session, url=settings["url"], **auth), MAP, 60.0)}, LOG)
    assert await back.poll_once(dt.datetime.now(dt.UTC).timestamp() + 1) == 3  # ack, wait, resume
    lived = life(store, incident)
    assert [e.kind for e in lived.events] == ["ack", "wait", "resume"]
    assert not lived.waiting
    assert {e.source for e in lived.events} == {"rt"}
