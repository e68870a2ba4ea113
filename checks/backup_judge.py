"""Judging what the backup check found, in words a night-shift engineer acts on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from checks.backup_config import BackupConfig
from checks.backup_files import FileInfo
from checks.backup_verify import Verdict
from sitewatch.probe import Result, Sample, Status, format_size, printable, worst

__all__ = ["Finding", "human_age", "judge", "no_files", "size_problems"]

Problem = tuple[Status, str]


@dataclass
class Finding:
    """The newest backup, the one before it, the set, and what verification said."""

    newest: FileInfo
    previous: FileInfo | None
    count: int
    total: int
    size_known: bool = True
    verdict: Verdict | None = None
    verified_at: float | None = None
    verify_error: str | None = None  # could not verify (timeout, permission)

    @property
    def verify_ok(self) -> bool | None:
        """True/False once verified, None when not (yet) known."""
        return None if self.verdict is None else self.verdict.problem is None


def human_age(seconds: float) -> str:
    """``45 s``, ``95 min``, ``49 h``, ``4.5 d``: the unit an engineer compares at a glance."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 72 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.1f} d"


def _name(info: FileInfo, label: str | None) -> str:
    return label or printable(os.path.basename(info.path), 120)  # a file name may hold any byte but "/"


def size_problems(cfg: BackupConfig, finding: Finding, label: str | None = None) -> list[Problem]:
    """Too small, or much smaller than the backup before it (a failed dump)."""
    newest, previous = finding.newest, finding.previous
    if not finding.size_known:
        return []
    name = _name(newest, label)
    if newest.size == 0 and cfg.min_size > 0:
        return [(Status.CRITICAL, f"newest backup {name} is empty (0 bytes)")]
    if newest.size < cfg.min_size:
        return [
            (Status.CRITICAL, f"newest backup {name} is {format_size(newest.size)} (min {format_size(cfg.min_size)})")
        ]
    if cfg.min_ratio is not None and previous is not None and newest.size < cfg.min_ratio * previous.size:
        drop = 100 * (1 - newest.size / previous.size)
        return [
            (
                Status.CRITICAL,
                f"newest backup {name} is {format_size(newest.size)}, {drop:.0f} % smaller than the previous"
                f" {format_size(previous.size)} ({_name(previous, None)})",
            )
        ]
    return []


def judge(
    cfg: BackupConfig, now: float, finding: Finding, details: dict[str, Any], label: str | None = None
) -> tuple[Status, str, dict[str, Any]]:
    """Status, summary and details for what was found."""
    newest = finding.newest
    name = _name(newest, label)
    age = max(0.0, now - newest.when)
    problems: list[Problem] = []
    if age > cfg.max_age:
        problems.append(
            (Status.CRITICAL, f"newest backup {name} is {human_age(age)} old (max {human_age(cfg.max_age)})")
        )
    sized = size_problems(cfg, finding, label)
    problems += sized
    files = cfg.kind == "files"
    if files and finding.count < cfg.min_count:
        problems.append((Status.WARNING, f"only {finding.count} backups kept (min {cfg.min_count})"))
    if files and cfg.max_total is not None and finding.total > cfg.max_total:
        total, limit = format_size(finding.total), format_size(cfg.max_total)
        problems.append((Status.WARNING, f"backups take {total} (max {limit})"))
    if finding.verify_error is not None:
        problems.append((Status.ERROR, finding.verify_error))
    elif finding.verdict is not None and finding.verdict.problem is not None and not (sized and newest.size == 0):
        # (an empty file is already reported as empty; "archive is empty" would say it twice)
        problems.append((Status.CRITICAL, f"newest backup {name}: {finding.verdict.problem}"))
    details = {**details, **_details(cfg, finding, age)}
    if problems:
        details["problems"] = [text for _, text in problems]
        return worst(*(s for s, _ in problems)), "; ".join(text for _, text in problems), details
    size = format_size(newest.size) if finding.size_known else "size unknown"
    summary = f"newest backup {name} is {human_age(age)} old, {size}"
    if files:
        summary += f"; {finding.count} kept, {format_size(finding.total)} in total"
    if finding.verify_ok:
        summary += f"; {cfg.verify} verified"
    return Status.OK, summary, details


def _details(cfg: BackupConfig, finding: Finding, age: float) -> dict[str, Any]:
    newest, previous = finding.newest, finding.previous
    out: dict[str, Any] = {
        "newest": newest.path,
        "newest_time": _iso(newest.when),
        "newest_bytes": newest.size if finding.size_known else None,
        "age_seconds": round(age, 3),
        "total_bytes": finding.total,
    }
    if previous is not None:
        out["previous"] = previous.path
        out["previous_bytes"] = previous.size
    if cfg.verify is not None:
        out["verify"] = {
            "kind": cfg.verify,
            "ok": finding.verify_ok,
            "problem": finding.verify_error or (finding.verdict.problem if finding.verdict else None),
            "detail": finding.verdict.detail if finding.verdict else "",
            "verified_at": _iso(finding.verified_at) if finding.verified_at is not None else None,
        }
    return out


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds")


def no_files(cfg: BackupConfig, missing: list[str], ignored: int, details: dict[str, Any]) -> Result:
    """Nothing to judge: say where the agent looked and why nothing counted."""
    patterns = ", ".join(cfg.path)
    details = {**details, "missing": missing}
    if ignored and cfg.name_time is not None:
        summary = (
            f"no backup in {patterns} has a timestamp like {cfg.name_time.pattern} in its name"
            f" ({ignored} files ignored)"
        )
    elif missing:
        summary = f"no backups: {missing[0]} does not exist (path: {patterns})"
    else:
        summary = f"no backup files match {patterns}"
    samples = (
        Sample("sitewatch_backup_count", 0.0),
        Sample("sitewatch_backup_total_bytes", 0.0),
        Sample("sitewatch_backup_last_success_timestamp_seconds", 0.0),
    )
    return Result(Status.CRITICAL, summary, samples, details)
