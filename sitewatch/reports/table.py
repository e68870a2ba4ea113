"""Plain-text tables for the terminal: aligned columns, and a last column that wraps, never cut."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence

__all__ = ["color_wanted", "render_table"]

#: Below this many columns left for the last column, a row is printed as a block instead:
#: the short columns on one line, the last one wrapped beneath it at the full width.
_MIN_LAST = 24
#: ANSI colours of the status words; other cells are never coloured.
_COLORS = {"CRITICAL": "31;1", "ERROR": "35;1", "WARNING": "33;1", "OK": "32"}


def color_wanted(isatty: bool) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set to anything (no-color.org)."""
    return isatty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None = None,
    color_column: int | None = None,
) -> str:
    """Left-aligned columns two spaces apart; the last column wraps to fit ``width``.

    With no ``width`` every row is one line (for pipes, grep and ``--wide``). The last column
    (the finding) is never cut: it wraps under itself, and when the other columns leave it too
    little room the row becomes a block with the finding on the lines below. ``color_column``
    names a column whose status words are coloured.
    """
    cells = [list(headers)] + [list(r) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers) - 1)]
    indent = sum(widths) + 2 * len(widths)
    room = None if width is None else width - indent
    lines = []
    for number, row in enumerate(cells):
        head = [cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)]
        if color_column is not None and number > 0:
            head[color_column] = _paint(row[color_column], head[color_column])
        last = row[-1]
        if room is None or len(last) <= room:
            lines.append("  ".join([*head, last]).rstrip())
        elif room >= _MIN_LAST:
            first, *rest = textwrap.wrap(last, room, break_on_hyphens=False) or [""]
            lines.append("  ".join([*head, first]).rstrip())
            lines.extend(" " * indent + more for more in rest)
        else:  # too narrow for columns: the short cells, then the finding wrapped at full width
            lines.append("  ".join(head).rstrip())
            assert width is not None
            if number == 0:  # the header names the short columns only: the findings sit beneath
                continue
            lines.extend(textwrap.wrap(last, max(width - 4, 20), initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


def _paint(word: str, padded: str) -> str:
    code = _COLORS.get(word.strip())
    if code is None:
        return padded
    return f"\x1b[{code}m{word}\x1b[0m" + padded[len(word) :]
