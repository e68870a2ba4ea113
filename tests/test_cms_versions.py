"""Version parsing and ordering across WordPress, Bitrix and Magento formats."""

from __future__ import annotations

import pytest

from checks.cms.versions import minor_distance, parse_version


def v(text: str):  # type: ignore[no-untyped-def]
    parsed = parse_version(text)
    assert parsed is not None, text
    return parsed


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("6.4", "6.4.1"),
        ("6.4.1", "6.4.2"),
        ("6.3.9", "6.4"),
        ("6.4.2", "6.10"),
        ("5.9.8", "6.0"),
        ("23.800.0", "23.850.0"),
        ("22.900.100", "23.0.0"),
        ("21.0.99", "21.0.100"),
        ("2.4.7", "2.4.7-p1"),
        ("2.4.7-p2", "2.4.7-p3"),
        ("2.4.7-p9", "2.4.7-p10"),
        ("2.4.7-p3", "2.4.8"),
        ("2.4.8-beta1", "2.4.8"),
        ("2.4.8-beta2", "2.4.8-rc1"),
        ("6.5-RC1", "6.5"),
        ("1.9.4.4", "1.9.4.5"),
        ("1.9.4.5", "1.9.5"),
        ("1.9.4.5", "19.4.0"),
    ],
)
def test_versions_order(low: str, high: str) -> None:
    """Each pair sorts strictly low < high, whatever the format."""
    assert v(low) < v(high)
    assert not v(high) < v(low)
    assert v(low) != v(high)


@pytest.mark.parametrize(
    ("a", "b"), [("6.4", "6.4.0"), ("v2.4.7", "2.4.7"), ("2.4.7-P3", "2.4.7-p3"), ("6.4.0.0", "6.4")]
)
def test_equal_versions(a: str, b: str) -> None:
    """Trailing zeros, a leading v and the case of a suffix do not make a different version."""
    assert v(a) == v(b)
    assert hash(v(a)) == hash(v(b))


@pytest.mark.parametrize(
    ("text", "norm", "line"),
    [
        ("6.4.2", "6.4.2", "6.4"),
        ("23.850.0", "23.850.0", "23.850"),
        ("2.4.7-p3", "2.4.7-p3", "2.4"),
        ("1.9.4.5", "1.9.4.5", "1.9"),
        ("6", "6", "6.0"),
        ("6.5-RC1", "6.5-rc1", "6.5"),
    ],
)
def test_normalised_text_and_line(text: str, norm: str, line: str) -> None:
    """The text used in labels is normalised; the release line is major.minor."""
    assert str(v(text)) == norm
    assert v(text).line_text == line


@pytest.mark.parametrize("text", ["", "latest", "6.x", "1.2.3.4.5.6", "6.4.2; DROP", "1700000000000"])
def test_not_versions(text: str) -> None:
    """Garbage, too many parts and absurd numbers are not versions (and never raise)."""
    assert parse_version(text) is None


@pytest.mark.parametrize(
    ("installed", "latest", "decimal", "behind"),
    [
        ("6.4.2", "6.4.3", True, 0),
        ("6.2.1", "6.4.2", True, 2),
        ("5.9.8", "6.1", True, 2),
        ("6.5", "6.4.2", True, 0),
        ("2.3.7-p4", "2.4.7-p3", False, 1),
        ("1.9.4.5", "2.4.7", False, 100),
    ],
)
def test_minor_distance(installed: str, latest: str, decimal: bool, behind: int) -> None:
    """Minor releases behind: WordPress counts 5.9 -> 6.0 as one step; other majors are far apart."""
    assert minor_distance(v(installed), v(latest), decimal_majors=decimal) == behind
