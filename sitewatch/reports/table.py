"""Aligned plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["render_table"]


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], max_last: int | None = None) -> str:
    """Left-aligned columns separated by two spaces; the last column may be cut to ``max_last``."""
    cells = [list(headers)] + [list(r) for r in rows]
    if max_last is not None:
        for row in cells[1:]:
            if len(row[-1]) > max_last:
                row[-1] = row[-1][: max(1, max_last - 1)] + "…"
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers) - 1)]
    lines = []
    for row in cells:
        head = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*head, row[-1]]).rstrip())
    return "\n".join(lines)
