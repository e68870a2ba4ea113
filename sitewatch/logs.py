"""One line per event: ``event key=value ...`` or JSON, on stderr (journald keeps it)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from typing import Any, Literal, TextIO

__all__ = ["event", "setup_logging"]

_FIELDS = "sitewatch_fields"
_SYSLOG_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


def event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    """Log event ``name`` with structured ``fields`` (never pass secrets or query strings)."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={_FIELDS: fields})


def _value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


class KeyValueFormatter(logging.Formatter):
    """``2026-11-26T20:00:00Z info check_failed site=shop check=http reason="..."``."""

    def __init__(self, journald: bool = False) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        """Render one event line."""
        fields: dict[str, Any] = getattr(record, _FIELDS, {})
        parts = [] if self.journald else [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))]
        parts += [record.levelname.lower(), record.getMessage()]
        parts += [f"{k}={_value(v)}" for k, v in fields.items() if k != "traceback"]
        line = " ".join(parts)
        if self.journald:  # sd-daemon priority prefix so journalctl -p works
            line = f"<{_SYSLOG_PRIORITY.get(record.levelno, 6)}>{line}"
        if "traceback" in fields:
            line += "\n" + str(fields["traceback"]).rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``{"ts":..., "level":..., "event":..., fields...}``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one event as JSON."""
        fields: dict[str, Any] = getattr(record, _FIELDS, {})
        data = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            **fields,
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup_logging(fmt: Literal["text", "json"] = "text", level: str = "info") -> logging.Logger:
    """Configure the ``sitewatch`` logger to write to stderr and return it."""
    logger = logging.getLogger("sitewatch")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    journald = fmt == "text" and sys.stderr.isatty() is False and _under_journald()
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter(journald=journald))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    _route_warnings(logger)
    return logger


def _route_warnings(logger: logging.Logger) -> None:
    """Make each Python warning one event in the chosen format instead of raw lines on stderr.

    This is what ``logging.captureWarnings`` does, with the warning's parts as fields rather
    than one multi-line message. Python's own filters still decide how often a warning shows
    (by default once per place in the code), so a warning raised on every run is logged once.
    """
    warnings_log = logger.getChild("warnings")

    def show(  # noqa: PLR0917 - the signature warnings.showwarning is called with
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        event(
            warnings_log,
            logging.WARNING,
            "python_warning",
            category=category.__name__,
            message=str(message),
            where=f"{filename}:{lineno}",
        )

    warnings.showwarning = show


def _under_journald() -> bool:
    return bool(os.environ.get("JOURNAL_STREAM"))
