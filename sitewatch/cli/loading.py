"""The first step of every command that reads the config, and the exit code of one that cannot run.

Shared by the dispatch (:mod:`sitewatch.cli.main`) and the commands in their own modules
(``run``, ``probe``, ``check-config``), so every command reports a broken config the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sitewatch.config.loader import ConfigError, load_config
from sitewatch.config.sourcemap import SecretMode
from sitewatch.config.specs import Config

__all__ = ["EXIT_UNUSABLE", "load_or_report"]

#: Exit code when the command could not run at all (Nagios' UNKNOWN).
EXIT_UNUSABLE = 3


def load_or_report(path: Path, secrets: SecretMode = "resolve", *, lenient: bool = False) -> Config | None:
    """The config, or None with every problem printed; ``secrets`` as :func:`load_config` takes it.

    ``lenient``: a broken included file is skipped (its problems printed as warnings), not fatal.
    """
    try:
        config = load_config(path, secrets=secrets, skip_broken_includes=lenient)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        print(
            f"{path}: {count} error{'s' * (count != 1)}; fix them and run `sitewatch check-config -c {path}` again",
            file=sys.stderr,
        )
        return None
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return config
