"""``agent.reference_targets``: what the agent probes to know whether its own network works.

A target is ``host:port`` (or ``tcp://host:port``: a TCP connect) or an ``http://``/``https://``
URL (any HTTP answer, whatever its status, proves the way there works). The operator picks
them: the client's upstream gateway, a resolver, or two well-known anchors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pydantic
import yarl

__all__ = ["ReferenceTarget", "parse_reference"]

_EXPECTED = "expected host:port, tcp://host:port or an http(s):// URL, like 192.0.2.1:53 or https://one.example/"


@dataclass(frozen=True, slots=True)
class ParsedReference:
    """A reference target, split for probing."""

    kind: Literal["tcp", "http"]
    host: str
    port: int
    url: str  # the target as written (for an http one, the URL fetched)


def parse_reference(text: str) -> ParsedReference:
    """``text`` split into kind, host and port; ValueError saying what was expected otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{_EXPECTED}, got {text!r}")
    written = text.strip()
    raw = written if "://" in written else f"tcp://{written}"
    try:
        url = yarl.URL(raw)
        port = url.port
    except ValueError:
        raise ValueError(f"{_EXPECTED}, got {text!r}") from None
    if url.scheme in ("http", "https") and url.host:
        return ParsedReference("http", url.host, port or 0, written)
    if url.scheme == "tcp" and url.host and port and url.path in ("", "/") and not url.query_string:
        return ParsedReference("tcp", url.host, port, written)
    raise ValueError(f"{_EXPECTED}, got {text!r}")


def _validated(value: Any) -> str:
    parse_reference(value)
    return str(value).strip()


#: One ``agent.reference_targets`` entry, checked at load.
ReferenceTarget = Annotated[str, pydantic.BeforeValidator(_validated)]
