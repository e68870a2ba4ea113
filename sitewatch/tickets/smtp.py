"""``email`` sink: one mail per incident event, threaded by Message-ID for any mailbox desk.

The first mail of an incident gets a fixed Message-ID derived from the incident;
every later one answers it (In-Reply-To/References), and the incident key is in
every subject, so desks that read a mailbox (and humans) see one thread.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from sitewatch.tickets import SinkError
from sitewatch.tickets.render import body, comment, title

__all__ = ["EmailSink"]

_PERMANENT = (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)


class EmailSink:
    """Sends mails through an SMTP relay (STARTTLS and login optional)."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        starttls: bool,
        username: str | None,
        password: str | None,
        sender: str,
        recipients: tuple[str, ...],
        ca_file: str | None,
        timeout: float,
    ) -> None:
        self.name = name
        self._host, self._port, self._starttls = host, port, starttls
        self._login = (username, password) if username and password else None
        self._sender, self._recipients = sender, recipients
        self._ca_file, self._timeout = ca_file, timeout

    async def find_open(self, key: str) -> str | None:
        """A mailbox cannot be searched from here."""
        return None

    async def open(self, payload: dict[str, Any]) -> str:
        """Send the first mail; its Message-ID is the reference."""
        message_id = _message_id(payload)
        await self._send(title(payload), body(payload), message_id, None, payload)
        return message_id

    async def update(self, ref: str, payload: dict[str, Any]) -> None:
        """A reply in the incident's thread."""
        await self._send(
            "Re: " + title(payload), comment(payload), _message_id(payload, payload["event"]), ref, payload
        )

    async def resolve(self, ref: str, payload: dict[str, Any]) -> None:
        """The recovery, in the thread."""
        await self._send("Re: " + title(payload), comment(payload), _message_id(payload, "resolved"), ref, payload)

    async def notify(self, payload: dict[str, Any]) -> None:
        """As an escalation target: a mail of its own per step (edits are Telegram's)."""
        if payload.get("notice") is not None:
            return
        step = payload["escalation"]
        message_id = _message_id(payload, f"escalation.{step['step']}.{step['repeat']}")
        await self._send(str(payload["title"]), str(payload["text"]), message_id, None, payload)

    async def _send(
        self, subject: str, text: str, message_id: str, parent: str | None, payload: dict[str, Any]
    ) -> None:
        message = EmailMessage()
        message["Subject"] = f"{subject} [{payload['key']}]"
        message["From"] = self._sender
        message["To"] = ", ".join(self._recipients)
        message["Date"] = formatdate(payload["at"], usegmt=True)
        message["Message-ID"] = message_id
        message["X-Sitewatch-Key"] = payload["key"]
        if parent is not None:
            message["In-Reply-To"] = parent
            message["References"] = parent
        message.set_content(text)
        try:
            await asyncio.to_thread(self._deliver, message)
        except _PERMANENT as exc:
            raise SinkError(f"email {self.name}: {exc}", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SinkError(f"email {self.name}: {type(exc).__name__}: {exc}", permanent=False) from None

    def _deliver(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
            if self._starttls:
                context = ssl.create_default_context(cafile=self._ca_file)
                smtp.starttls(context=context)
            if self._login is not None:
                smtp.ehlo_or_helo_if_needed()
                if "PLAIN" in smtp.esmtp_features.get("auth", "").upper().split():
                    # One clear answer (235 or 535); login() would go on to try other mechanisms.
                    smtp.user, smtp.password = self._login
                    smtp.auth("PLAIN", smtp.auth_plain)
                else:
                    smtp.login(*self._login)
            smtp.send_message(message)


def _message_id(payload: dict[str, Any], suffix: str = "opened") -> str:
    # Stable per incident and event: a resent mail (lost reply) keeps its id, so threads stay clean.
    key = re.sub(r"[^A-Za-z0-9.-]", ".", str(payload["key"]))
    return f"<{key}.{payload['incident_id']}.{suffix}.{int(payload['at'])}@sitewatch>"
