"""CMS version numbers: parse, compare and measure distance across the formats we meet.

Formats: ``6.4``, ``6.4.2`` (WordPress), ``23.850.0`` (1C-Bitrix), ``2.4.7-p3``
(Magento patch releases, which sort *after* ``2.4.7``), ``1.9.4.5`` (Magento 1),
and pre-releases such as ``6.5-RC1`` or ``2.4.8-beta2`` (which sort *before* the release).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Version", "minor_distance", "parse_version"]

_VERSION = re.compile(
    r"v?(?P<release>\d{1,6}(?:\.\d{1,6}){0,4})"
    r"(?:[-.]?(?:(?P<pre>alpha|beta|rc|a|b)\.?(?P<pre_n>\d{0,4})|p(?:l)?\.?(?P<patch>\d{1,4})))?",
    re.IGNORECASE,
)
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "rc": 2}


@functools.total_ordering
@dataclass(frozen=True, slots=True)
class Version:
    """A comparable version; ``text`` is the normalised form used in labels and summaries."""

    release: tuple[int, ...]
    # (-1, rank, n) for pre-releases, (0, 0, 0) for the release, (1, n, 0) for a -pN patch.
    suffix: tuple[int, int, int] = (0, 0, 0)
    text: str = ""

    @property
    def _key(self) -> tuple[tuple[int, ...], tuple[int, int, int]]:
        # Pad so that 6.4 == 6.4.0 and 6.4 < 6.4.1.
        return ((*self.release, *(0,) * (5 - len(self.release))), self.suffix)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __lt__(self, other: Version) -> bool:
        return self._key < other._key

    def __str__(self) -> str:
        return self.text

    @property
    def line(self) -> tuple[int, int]:
        """The release line ``(major, minor)``, e.g. ``(2, 4)`` for ``2.4.7-p3``."""
        minor = self.release[1] if len(self.release) > 1 else 0
        return (self.release[0], minor)

    @property
    def line_text(self) -> str:
        """The release line as text, e.g. ``2.4``."""
        return "{}.{}".format(*self.line)

    @property
    def is_prerelease(self) -> bool:
        """True for alpha, beta and release-candidate versions."""
        return self.suffix[0] < 0


def parse_version(text: str) -> Version | None:
    """Parse a version string; ``None`` when it is not a version (never raises)."""
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        return None
    release = tuple(int(part) for part in match["release"].split("."))
    norm = ".".join(map(str, release))
    if match["pre"]:
        pre = match["pre"].lower()
        number = int(match["pre_n"] or 0)
        suffix = (-1, _PRE_RANK[pre], number)
        norm += f"-{pre}{match['pre_n'] or ''}"
    elif match["patch"]:
        suffix = (1, int(match["patch"]), 0)
        norm += f"-p{int(match['patch'])}"
    else:
        suffix = (0, 0, 0)
    return Version(release, suffix, norm)


def minor_distance(installed: Version, latest: Version, *, decimal_majors: bool = False) -> int:
    """How many minor releases ``installed`` is behind ``latest`` (0 if same line or ahead).

    WordPress numbers its releases decimally (5.9 is followed by 6.0), so with
    ``decimal_majors`` a major step counts as the minors in between. Otherwise a
    different major is treated as far behind: 100 minors per major.
    """
    (imaj, imin), (lmaj, lmin) = installed.line, latest.line
    if decimal_majors:
        return max(0, (lmaj * 10 + lmin) - (imaj * 10 + imin))
    if imaj == lmaj:
        return max(0, lmin - imin)
    return max(0, (lmaj - imaj) * 100)
