"""Config files for tests that load a config without a running agent: state in one folder, the usual defaults."""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["write_site_config"]


def write_site_config(directory: Path, rest: str, **defaults: str) -> Path:
    """Write ``directory/config.yaml`` and return its path.

    The agent keeps its state in ``directory``; ``defaults:`` holds a 60 s interval and a 10 s
    timeout, changed or added to by ``defaults`` (e.g. ``sla="99.9"``); ``rest`` (dedented
    here, so it may be indented like the code around it) follows: ``maintenance:``, ``sites:``.
    """
    settings = {"interval": "60s", "timeout": "10s", **defaults}
    path = directory / "config.yaml"
    path.write_text(
        f"agent:\n  state_dir: {directory}\ndefaults:\n"
        + "".join(f"  {key}: {value}\n" for key, value in settings.items())
        + textwrap.dedent(rest),
        encoding="utf-8",
    )
    return path
