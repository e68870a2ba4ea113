"""How a check's settings are written: the :class:`CheckConfig` base and the ``Duration``, ``Size``
and ``Pattern`` field types.

Separate because it is the config side of a check: pydantic validates these when the
configuration loads, long before (and apart from) any run.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import pydantic

from sitewatch.compact import compact_fields as _compact_fields
from sitewatch.units import parse_duration, parse_size


def _duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration like 10s, got {value!r}")
    if isinstance(value, int | float):
        raise ValueError(f"expected a duration like 10s, got {value!r} (add a unit: ms, s, m, h, d)")
    if value.strip().startswith("-"):
        raise ValueError(f"expected a positive duration like 10s, got {value!r}")
    seconds = parse_duration(value)
    if seconds < 0:  # pragma: no cover - the grammar has no sign
        raise ValueError("expected a positive duration")
    return seconds


def _size(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a size like 10MB, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected a size like 10MB, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a size like 10MB, got {value!r}")
    return parse_size(value)


def _pattern(value: Any) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a regular expression, got {value!r}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"expected a valid regular expression, got {value!r} ({exc})") from None


#: Seconds, written in config as ``500ms``, ``30s``, ``5m``, ``26h`` or ``7d``.
Duration = Annotated[float, pydantic.BeforeValidator(_duration)]
#: Bytes, written in config as ``10MB``, ``2MiB`` or a plain integer.
Size = Annotated[int, pydantic.BeforeValidator(_size)]
#: A compiled regular expression, validated at config load.
Pattern = Annotated[re.Pattern[str], pydantic.BeforeValidator(_pattern)]


class CheckConfig(pydantic.BaseModel):
    """Base for check settings: unknown keys are errors and values are frozen."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    def model_post_init(self, context: Any, /) -> None:
        """Keep the fields in a key-sharing dict: one config per check, 10,000 checks per agent."""
        _compact_fields(self)
