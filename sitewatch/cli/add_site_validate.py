"""``add-site``'s two validations of the file it generates: alone before writing, then in the real config.

Alone first, in a scratch config holding only the new file (and its client and host), so a
bug in the generated YAML is told apart from a config that was broken already; then, once
written, the same load as check-config on the real config, so the engineer learns whether the
file is picked up at all (``include:``). Apart from :mod:`sitewatch.cli.add_site` because
neither needs the probe, only the text and the loader.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from sitewatch.config.loader import ConfigError, load_config

__all__ = ["INCLUDE", "validate_alone", "validate_config"]

#: What the config's include: should name for the file to be picked up.
INCLUDE = "sites.d/*.yaml"


def validate_alone(
    text: str, name: str, token: str | None, client: str | None = None, depends_on: str | None = None
) -> list[str]:
    """Load the generated file as the only include of an empty config (with its client), in a scratch directory.

    A ``depends_on`` host gets a stand-in there, so the file is checked without the real config.
    """
    with tempfile.TemporaryDirectory(prefix="sitewatch-add-site-") as scratch:
        base = Path(scratch)
        (base / "sites.d").mkdir()
        (base / "sites.d" / f"{name}.yaml").write_text(text, encoding="utf-8")
        if token is not None:
            (base / "sites.d" / f"{name}.heartbeat-token").write_text(token, encoding="utf-8")
        if depends_on is not None:
            stand_in = f"name: {depends_on}\nhost: true\nurl: http://127.0.0.1/\nchecks: [{{type: tcp, port: 22}}]\n"
            (base / "sites.d" / f"{depends_on}.host.yaml").write_text(stand_in, encoding="utf-8")
        main = base / "config.yaml"
        clients = f"clients: [{{name: {json.dumps(client)}}}]\n" if client else ""
        main.write_text(f"agent: {{state_dir: {base / 'state'}}}\n{clients}include: [{INCLUDE}]\n", encoding="utf-8")
        try:
            load_config(main)
        except ConfigError as exc:
            return [str(p).replace(scratch, "") for p in exc.problems]
    return []


def validate_config(path: Path, name: str, target: Path, *, was_valid: bool) -> int:
    """The same validation as check-config, on the real config with the new file in place."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        if was_valid:
            print(f"{path}: invalid after adding {target}; fix the errors above (or remove the file)", file=sys.stderr)
        else:
            print(
                f"{path}: was already invalid before {target} was added (which validates on its own);"
                f" fix the errors above, then run `sitewatch check-config -c {path}`",
                file=sys.stderr,
            )
        return 1
    if name not in {s.info.name for s in config.sites}:
        print(
            f"{path}: OK, but it does not include {target.name}: add\n  include:\n    - {INCLUDE}\n"
            f"to {path}, then run `sitewatch check-config -c {path}`",
            file=sys.stderr,
        )
        return 1
    checks = sum(len(s.checks) for s in config.sites if s.info.name == name)
    print(f"{path}: OK ({len(config.sites)} sites; {name}: {checks} checks). Apply: systemctl reload sitewatch")
    return 0
