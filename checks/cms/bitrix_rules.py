"""The Bitrix module rules a run judges with: the shipped minimum versions plus ``bitrix_modules_file``.

Separate from :mod:`checks.cms.bitrix` (detection and the rule format, pure) because this part
does I/O at run time: it loads the shipped list once per process and re-reads the ops' file on
every run, in the check's own file workers, turning a broken file into a warning, not a crash.
"""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

from checks.cms import bitrix
from checks.cms.local import FILES
from checks.cms.model import Finding
from sitewatch.probe import StillRunning, describe_os_error, read_regular

__all__ = ["rules_for"]

_SHIPPED: dict[str, bitrix.ModuleRule] | None = None


async def rules_for(finding: Finding, path: Path | None) -> tuple[dict[str, bitrix.ModuleRule], str | None]:
    """The module rules for ``finding`` (none unless it is Bitrix), and why ``path`` could not be used."""
    global _SHIPPED  # noqa: PLW0603 - loaded once per process, read-only afterwards
    if finding.cms != "bitrix":
        return {}, None
    if _SHIPPED is None:
        _SHIPPED = await asyncio.to_thread(bitrix.shipped_rules)
    rules = dict(_SHIPPED)
    if path is not None:
        # Validated at load, but ops may break the file later: say so instead of crashing.
        try:
            data = await FILES.run(str(path), lambda: read_regular(path, 1024 * 1024))
            if data is None:
                raise FileNotFoundError(errno.ENOENT, "does not exist", str(path))
            rules.update(bitrix.load_rules(data.decode("utf-8", "replace"), str(path)))
        except StillRunning:
            return rules, f"the previous read of {path} is still stuck (hung filesystem?)"
        except OSError as exc:
            return rules, f"cannot read {path}: {describe_os_error(exc)}"
        except ValueError as exc:
            return rules, str(exc)
    return rules, None
