"""The night engineer's terminal: probe tables that fit and never cut a finding, tickets by urgency."""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import sqlite3
import struct
import subprocess
import sys
import termios
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from sitewatch.reports.table import render_table
from sitewatch.store.database import Store
from tests.helpers import serve

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
FINDING = "HTTP 500 Internal Server Error (expected 200-399)"


def test_last_column_wraps_and_keeps_every_word() -> None:
    """At 80 columns no line is longer than 80 and the finding reads whole when its lines are joined."""
    long = "certificate for 127.0.0.1 expires in 9 days (2026-12-16) and is signed by an untrusted root"
    out = render_table(["SITE", "CHECK", "SUMMARY"], [["shop", "tls", long], ["blog", "http", "ok"]], width=80)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[1].startswith("shop  tls    certificate")
    joined = " ".join(line.strip() for line in lines[1:-1]).removeprefix("shop  tls    ")
    assert joined == long
    assert lines[-1].split() == ["blog", "http", "ok"]


def test_too_narrow_for_columns_becomes_a_block() -> None:
    """When the short columns leave the finding under 24 columns, it goes on its own lines, whole."""
    site = "internet-shop-romashka-with-a-long-name"
    out = render_table(["SITE", "CHECK", "SUMMARY"], [[site, "http", FINDING]], width=50)
    lines = out.splitlines()
    assert lines[1].split() == [site, "http"]
    assert " ".join(line.strip() for line in lines[2:]) == FINDING
    assert max(len(line) for line in lines) <= 50


def test_no_width_means_one_line_per_row() -> None:
    """Piped output (and --wide) keeps one line per row."""
    out = render_table(["A", "B"], [["x", FINDING * 3]])
    assert out.splitlines()[1] == "x  " + FINDING * 3


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A healthy page at / and a failing one at /broken."""

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="<html>shop</html>", content_type="text/html")

    async def broken(_: web.Request) -> web.Response:
        return web.Response(status=500, text="oops")

    app = web.Application()
    app.router.add_get("/", ok)
    app.router.add_get("/broken", broken)
    async with serve(app) as url:
        yield url


def config(tmp_path: Path, url: str) -> Path:
    """Three sites, the failing one in the middle alphabetically."""
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path / "state"}
        sites:
          - name: alpha
            url: {url}/
          - name: broken-shop-with-a-long-name
            url: {url}/broken
          - name: zeta
            url: {url}/
        """),
        encoding="utf-8",
    )
    return path


def run_in_pty(args: list[str], columns: int, env: dict[str, str]) -> str:
    """Run ``sitewatch`` with stdout on a real pseudo-terminal ``columns`` wide; return what it printed."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    child_env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES", "NO_COLOR"}} | env
    proc = subprocess.Popen(
        [sys.executable, "-m", "sitewatch.cli", *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=child_env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    proc.wait(timeout=60)
    return b"".join(chunks).decode().replace("\r\n", "\n")


async def test_probe_in_an_80_column_terminal_shows_every_finding_whole(tmp_path: Path, site: str) -> None:
    """Under a real 80-column pty: problems first, no line over 80, the finding whole, status coloured."""
    path = config(tmp_path, site)
    out = await asyncio.to_thread(run_in_pty, ["probe", "-c", str(path)], 80, {"TERM": "xterm"})
    assert "\x1b[31;1mCRITICAL\x1b[0m" in out
    plain = _ANSI.sub("", out)
    lines = plain.strip().splitlines()
    assert max(len(line) for line in lines) <= 80, lines
    assert lines[0].split()[:3] == ["SITE", "CHECK", "STATUS"]
    assert lines[1].startswith("broken-shop-with-a-long-name")  # the problem comes first
    body = " ".join(line.strip() for line in lines[1:])
    assert FINDING in re.sub(r"\s+", " ", body)
    assert [line.split()[0] for line in lines if line.startswith(("alpha", "zeta"))] == ["alpha", "zeta"]


async def test_no_color_and_failing(tmp_path: Path, site: str) -> None:
    """NO_COLOR turns colour off on a terminal; --failing shows only what is not ok."""
    path = config(tmp_path, site)
    args = ["probe", "-c", str(path), "--failing"]
    out = await asyncio.to_thread(run_in_pty, args, 120, {"TERM": "xterm", "NO_COLOR": "1"})
    assert "\x1b[" not in out
    rows = out.strip().splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["broken-shop-with-a-long-name"]


def seed_tickets(tmp_path: Path, count: int) -> Path:
    """A store with ``count`` open tickets, priorities cycling P4..P1, ids in opening order."""
    state = tmp_path / "state"
    Store(state / "sitewatch.db").close()
    with sqlite3.connect(state / "sitewatch.db") as db:
        for n in range(count):
            db.execute(
                "INSERT INTO tickets (key, title, body, priority, status, created_at, updated_at)"
                " VALUES (?, ?, 'body', ?, 'open', ?, ?)",
                (f"k{n}", f"ticket {n}", f"P{4 - n % 4}", 1_800_000_000 + n, 1_800_000_000 + n),
            )
    db.close()
    path = tmp_path / "config.yaml"
    path.write_text(f"agent:\n  state_dir: {state}\nsites: []\n", encoding="utf-8")
    return path


async def tickets_cli(path: Path, *args: str) -> tuple[int, str]:
    """Run ``sitewatch tickets`` and return its exit code and stdout."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sitewatch.cli", "tickets", "-c", str(path), *args, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode()


async def test_tickets_sorted_by_priority_then_age_with_who_acked(tmp_path: Path) -> None:
    """P1 first, oldest first within a priority; an ack records who and when, and the list shows it."""
    path = seed_tickets(tmp_path, 8)
    code, out = await tickets_cli(path, "ack", "4", "--by", "ivanov")
    assert (code, out.strip()) == (0, "ticket 4 is acked (acked by ivanov)")
    code, out = await tickets_cli(path, "list")
    rows = [line.split() for line in out.strip().splitlines()[1:]]
    assert [(r[0], r[2]) for r in rows] == [
        ("4", "P1"), ("8", "P1"), ("3", "P2"), ("7", "P2"), ("2", "P3"), ("6", "P3"), ("1", "P4"), ("5", "P4"),
    ]  # fmt: skip
    assert rows[0][1] == "acked"
    assert "ivanov" in rows[0]
    assert rows[1][1] == "open"


async def test_tickets_list_into_a_closed_pipe_exits_cleanly(tmp_path: Path) -> None:
    """`tickets list | head -1`: the reader leaves early; no traceback, exit 141 like a shell pipeline."""
    path = seed_tickets(tmp_path, 3000)  # far more than a pipe buffer holds
    read, write = os.pipe()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sitewatch.cli", "tickets", "-c", str(path), "list",
        stdout=write, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    os.close(write)
    with os.fdopen(read, "rb") as reader:
        assert reader.readline().startswith(b"ID")
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert b"Traceback" not in err, err.decode()
    assert proc.returncode == 141
