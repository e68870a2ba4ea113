"""The e-mail sink against a real SMTP server (aiosmtpd) with STARTTLS and AUTH."""

from __future__ import annotations

import email
import logging
import ssl
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from sitewatch.store.database import Store
from sitewatch.tickets.outbox import Deliverer
from sitewatch.tickets.smtp import EmailSink
from tests.helpers import free_port
from tests.test_sinks import drain, write


class Mailbox:
    """Collects every accepted message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"sitewatch", b"mail-pass")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp(ca: trustme.CA, tmp_path: Path) -> Iterator[tuple[Mailbox, int, str]]:
    """A real SMTP server on loopback that requires STARTTLS before AUTH."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    box, port = Mailbox(), free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield box, port, str(tmp_path / "ca.pem")
    finally:
        controller.stop()


def sink(port: int, ca_file: str, password: str = "mail-pass") -> EmailSink:
    return EmailSink(
        "mail",
        host="127.0.0.1",
        port=port,
        starttls=True,
        username="sitewatch",
        password=password,
        sender="sitewatch@agent.example",
        recipients=("support@desk.example",),
        ca_file=ca_file,
        timeout=10,
    )


async def test_mails_thread_by_message_id(tmp_path: Path, smtp: tuple[Mailbox, int, str]) -> None:
    """Open and recovery arrive over STARTTLS+AUTH; the recovery answers the first mail."""
    box, port, ca_file = smtp
    store = Store(tmp_path / "s.db")
    deliverer = Deliverer(store, {"mail": sink(port, ca_file)}, logging.getLogger("sitewatch.test"))
    write(store, "sw:v1:shop:http", "mail", "opened", 1000.0)
    write(store, "sw:v1:shop:http", "mail", "resolved", 1300.0, severity=None)
    await drain(store, deliverer)
    first, second = box.messages
    assert "[sw:v1:shop:http]" in first["Subject"]
    assert first["Subject"].startswith("[sitewatch] shop http CRITICAL")
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"] == first["Message-ID"]
    assert "Downtime 5 minutes" in second.get_payload()


async def test_bad_password_is_a_dead_letter(tmp_path: Path, smtp: tuple[Mailbox, int, str]) -> None:
    """Authentication failure is permanent: no retry storm, the row is kept as dead."""
    _, port, ca_file = smtp
    store = Store(tmp_path / "s.db")
    deliverer = Deliverer(store, {"mail": sink(port, ca_file, "wrong")}, logging.getLogger("sitewatch.test"))
    write(store, "sw:v1:shop:http", "mail", "opened", 1000.0)
    await deliverer.drain_once()
    assert store.outbox_stats(0)["dead"] == 1, [tuple(r) for r in store.db.execute("SELECT last_error FROM outbox")]
