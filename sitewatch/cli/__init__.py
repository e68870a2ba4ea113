"""The command line: one module per command group, the onboarding of a new site, the demo.

``main`` is the ``sitewatch`` console script; ``python -m sitewatch.cli`` runs it too.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sitewatch`` command (imported on call, so that ``sitewatch.cli.*`` helpers stay light)."""
    from sitewatch.cli.main import main as run  # noqa: PLC0415 - keeps importing the package cheap

    return run(argv)
