"""What a site controls, handled safely: bodies read whole up to a cap, text made printable.

Re-exported by :mod:`sitewatch.probe` for checks; the core (the web server, the
Alertmanager bridge, the ticket sinks) uses the same helpers.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

__all__ = ["Body", "printable", "read_body"]

_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Body:
    """A body read up to a cap: ``data`` (at most the cap) and whether more was left unread."""

    data: bytes
    truncated: bool


async def read_body(stream: aiohttp.StreamReader, limit: int) -> Body:
    """Read ``stream`` until its end or ``limit`` bytes, whichever comes first.

    One ``stream.read(n)`` returns only what has arrived so far (the first network
    chunk, or the first gzip block decoded), not ``n`` bytes: the loop goes on until the
    end. One byte past the cap is read so that ``truncated`` is exact, not a guess from
    ``at_eof()`` (which is still false while the last empty chunk is on its way).
    """
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    data = b"".join(chunks)
    return Body(data[:limit], size > limit)


def printable(text: str, limit: int | None = None) -> str:
    """``text`` as one printable line: control, format and separator characters become spaces.

    For anything a site controls (reasons, headers, certificate names, file names) before it
    reaches a summary, a label, a log or a terminal: ESC, CR/LF, BEL and bidi overrides
    cannot move the cursor, clear a screen or forge a line. Runs of white space collapse;
    ``limit`` cuts the result to that many characters.
    """
    if not text.isprintable() or "  " in text or text != text.strip():
        text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return text if limit is None else text[:limit]
