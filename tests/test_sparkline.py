"""The latency sparkline: buckets, gaps, flat lines and bounds."""

from __future__ import annotations

import pytest

from sitewatch.web.sparkline import sparkline


def test_mean_per_bucket_scaled_into_the_box() -> None:
    """Each bucket is the mean of its samples; the fastest sits on the bottom margin, the slowest on the top."""
    line = sparkline([(0, 1.0), (5, 3.0), (10, 4.0), (25, 6.0)], 0, 30, buckets=3, width=22, height=12)
    assert line is not None
    assert (line.low, line.high, line.last, line.points) == (2.0, 6.0, 6.0, 3)
    assert line.path == "M1.0 11.0 L11.0 6.0 L21.0 1.0"


def test_gaps_break_the_line_and_lone_points_still_show() -> None:
    """An empty bucket starts a new segment (no line across an outage); a lone point gets a 1-pixel stroke."""
    line = sparkline([(0, 1.0), (1, 1.0), (3, 2.0)], 0, 4, buckets=4, width=8, height=4)
    assert line is not None
    assert line.path == "M1.0 3.0 L3.0 3.0 M7.0 1.0 h1"


def test_flat_line_is_centred_and_no_data_is_none() -> None:
    """Equal durations draw a centred line; no samples in the window (or only outside it) draw nothing."""
    line = sparkline([(0, 0.5), (9, 0.5)], 0, 10, buckets=2, width=10, height=10)
    assert line is not None
    assert line.path == "M1.0 5.0 L9.0 5.0"
    assert sparkline([], 0, 10) is None
    assert sparkline([(-1, 0.5), (10, 0.5)], 0, 10) is None
    with pytest.raises(ValueError, match="start < end"):
        sparkline([], 10, 10)
