"""Settings of the ``tcp`` check."""

from __future__ import annotations

import os
from typing import Annotated, Any

import pydantic

from sitewatch.probe import CheckConfig, Pattern, Size

__all__ = ["Step", "TcpConfig"]


def _ca_file(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected the path of a PEM file of CA certificates, got {value!r}")
    if not os.path.isfile(value):
        raise ValueError(f"CA file {value!r} does not exist or is not a file")
    return value


class Step(CheckConfig):
    """One step of the dialogue: ``{send: "PING"}`` or ``{expect: "^\\\\+PONG"}``."""

    send: str | None = None  # sent as UTF-8; CRLF is appended unless the text already ends in a newline
    expect: Pattern | None = None  # searched in each line read (and in a trailing line without newline)

    @pydantic.model_validator(mode="after")
    def _one(self) -> Step:
        if (self.send is None) == (self.expect is None):
            raise ValueError("a step is either send: or expect:, exactly one of them")
        return self

    @property
    def payload(self) -> bytes:
        """The bytes a ``send:`` step writes."""
        text = self.send or ""
        return (text if text.endswith("\n") else text + "\r\n").encode("utf-8")


class TcpConfig(CheckConfig):
    """``type: tcp`` — connect to host:port (optionally TLS) and hold a short send/expect dialogue."""

    host: str | None = None  # default: the host of the site's URL
    port: Annotated[int, pydantic.Field(ge=1, le=65535)]
    tls: bool = False  # TLS right after connecting (SMTPS 465, IMAPS 993, rediss …)
    server_name: str | None = None  # SNI and the name verified; default: host
    verify: bool = True  # verify the certificate chain and the name (with tls: true)
    ca_file: Annotated[str, pydantic.BeforeValidator(_ca_file)] | None = None  # instead of the system store
    steps: tuple[Step, ...] = ()
    max_read: Size = 64 * 1024  # bytes one expect: step reads at most before giving up

    @pydantic.model_validator(mode="after")
    def _tls_only(self) -> TcpConfig:
        if not self.tls and (self.server_name is not None or self.ca_file is not None):
            raise ValueError("server_name and ca_file need tls: true")
        if self.max_read < 1:
            raise ValueError("max_read must be at least 1 byte")
        return self
