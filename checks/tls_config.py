"""Settings of the ``tls`` check."""

from __future__ import annotations

import os
from typing import Annotated, Any

import pydantic

from sitewatch.probe import CheckConfig

__all__ = ["TlsConfig"]


def _ca_file(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected the path of a PEM file of CA certificates, got {value!r}")
    if not os.path.isfile(value):
        raise ValueError(f"CA file {value!r} does not exist or is not a file")
    return value


class TlsConfig(CheckConfig):
    """``type: tls`` — handshake with the site and judge its certificate chain."""

    host: str | None = None  # default: the host of the site's URL (also the SNI name)
    port: Annotated[int, pydantic.Field(ge=1, le=65535)] | None = None  # default: https port of the URL, else 443
    warn_days: Annotated[float, pydantic.Field(ge=0)] = 21
    crit_days: Annotated[float, pydantic.Field(ge=0)] = 7
    ca_file: Annotated[str, pydantic.BeforeValidator(_ca_file)] | None = None  # instead of the system store
    all_addresses: bool = False  # every A/AAAA address, not just the first that answers

    @pydantic.model_validator(mode="after")
    def _order(self) -> TlsConfig:
        if self.crit_days > self.warn_days:
            raise ValueError(f"crit_days ({self.crit_days:g}) must not exceed warn_days ({self.warn_days:g})")
        return self
