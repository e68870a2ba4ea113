"""A latency sparkline as SVG path data, computed on the server (the page runs no JavaScript)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Sparkline", "sparkline"]


@dataclass(frozen=True, slots=True)
class Sparkline:
    """What the template needs to draw one: a view box and an SVG path, plus the figures it shows."""

    width: int
    height: int
    path: str  # "M x y L x y …"; a gap in the data starts a new "M" segment instead of a misleading line
    low: float  # seconds
    high: float
    last: float
    points: int


def sparkline(
    samples: Iterable[tuple[float, float]],
    start: float,
    end: float,
    *,
    buckets: int = 48,
    width: int = 120,
    height: int = 24,
) -> Sparkline | None:
    """Mean duration per time bucket of ``(at, seconds)`` samples in ``[start, end)``; None without data.

    Buckets keep the path small however many runs there were (48 half-hours for a day).
    """
    if end <= start or buckets < 1:
        raise ValueError("a sparkline needs start < end and at least one bucket")
    sums = [0.0] * buckets
    counts = [0] * buckets
    span = (end - start) / buckets
    last = None
    for at, seconds in samples:
        if not start <= at < end:
            continue
        index = min(int((at - start) / span), buckets - 1)
        sums[index] += seconds
        counts[index] += 1
        last = seconds
    means = [s / c if c else None for s, c in zip(sums, counts, strict=True)]
    present = [m for m in means if m is not None]
    if not present or last is None:
        return None
    low, high = min(present), max(present)
    # One pixel of margin so a flat line or a peak is not clipped by the stroke.
    scale = (height - 2) / (high - low) if high > low else 0.0
    step = (width - 2) / max(buckets - 1, 1)
    segments: list[list[str]] = [[]]
    for i, mean in enumerate(means):
        if mean is None:
            if segments[-1]:
                segments.append([])
            continue
        x = 1 + i * step
        y = height - 1 - (mean - low) * scale if scale else height / 2
        segments[-1].append(f"{x:.1f} {y:.1f}")
    # A lone point between gaps gets a one-pixel stroke, or it would not be drawn at all.
    path = " ".join("M" + " L".join(seg) + (" h1" if len(seg) == 1 else "") for seg in segments if seg)
    return Sparkline(width, height, path, low, high, last, len(present))
