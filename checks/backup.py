"""``backup`` check: is there a recent, plausible, readable backup for this site?

Local files (``path:``) are listed and verified in worker threads with a deadline,
so a slow disk or a 50 GB archive never holds the event loop; a remote object
(``url:``) is looked at with HEAD. Judging what was found is :mod:`checks.backup_judge`.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import yarl

from checks.backup_config import BackupConfig
from checks.backup_files import Deadline, FileInfo, Listing, agent_user, scan
from checks.backup_judge import Finding, judge, no_files, size_problems
from checks.backup_remote import RemoteFailure, stat_remote
from checks.backup_verify import Verdict, verify_file
from sitewatch.probe import (
    Check,
    Context,
    FileWorkers,
    MetricSpec,
    Result,
    Sample,
    SiteInfo,
    Status,
    StillRunning,
    describe_os_error,
    format_duration,
    format_size,
    redact_url,
)

__all__ = ["BackupCheck"]

T = TypeVar("T")
_SIDECAR = ".sha256"


class BackupCheck(Check[BackupConfig]):
    """Finds the newest backup and judges its age, size, retention and (opt-in) integrity."""

    type = "backup"
    Config = BackupConfig
    metrics = (
        MetricSpec("sitewatch_backup_age_seconds", "Age of the newest backup."),
        MetricSpec("sitewatch_backup_size_bytes", "Size of the newest backup."),
        MetricSpec("sitewatch_backup_count", "Number of backup files kept."),
        MetricSpec("sitewatch_backup_total_bytes", "Total size of the backup files kept."),
        MetricSpec(
            "sitewatch_backup_last_success_timestamp_seconds",
            "Time of the newest backup that passed the size, ratio and verify checks (0 if none).",
        ),
        MetricSpec("sitewatch_backup_verified", "1 if the newest backup passed verification, else 0 (verify only)."),
    )

    def __init__(self, config: BackupConfig, site: SiteInfo) -> None:
        super().__init__(config, site)
        self.url = site.url.join(yarl.URL(config.url)) if config.url is not None else None
        # (path, mtime_ns, size) -> (unix time verified, verdict); the newest file only.
        self._verified: dict[tuple[str, int, int], tuple[float, Verdict]] = {}
        # Work on the same paths never runs twice at once: a run stuck on them makes the next say so.
        self._key = ", ".join(config.path) if config.path else site.name

    @property
    def target_host(self) -> str:
        """The URL's host; local checks share one slot name so they queue on the disk, not on the site."""
        if self.url is not None:
            return self.url.host or super().target_host
        return "local-backup-disk"

    async def run(self, ctx: Context) -> Result:
        """Look at the backup once; never raises for a missing or broken backup."""
        deadline = time.monotonic() + ctx.timeout
        if self.url is not None:
            return await self._run_url(ctx)
        return await self._run_files(ctx, deadline)

    # -- local files -------------------------------------------------------------------

    async def _run_files(self, ctx: Context, deadline: float) -> Result:
        cfg = self.config
        details: dict[str, Any] = {"path": list(cfg.path)}
        try:
            listing = await _in_thread(self._key, lambda stop: scan(cfg.path, deadline, stop))
        except StillRunning as exc:
            return Result(Status.ERROR, _stuck("listing", ", ".join(cfg.path), exc), (), details)
        except Deadline:
            took = f"listing {', '.join(cfg.path)} took longer than the {format_duration(ctx.timeout)} timeout"
            return Result(Status.ERROR, took, (), details)
        if listing.denied:
            user = await asyncio.to_thread(agent_user)  # NSS may ask LDAP: not on the loop
            where = listing.denied[0]
            details.update(denied=listing.denied, user=user)
            return Result(
                Status.ERROR,
                f"cannot list {where}: permission denied for user {user}"
                f" (grant read access, e.g. setfacl -m u:{user}:rx {where})",
                (),
                details,
            )
        files, ignored = self._candidates(listing)
        details.update(count=len(files), ignored=ignored)
        if not files:
            return no_files(cfg, listing.missing, ignored, details)
        newest = files[0]
        previous = files[1] if len(files) > 1 else None
        finding = Finding(newest=newest, previous=previous, count=len(files), total=sum(f.size for f in files))
        if cfg.verify is not None:
            finding.verify_error = await self._verify(ctx, newest, finding, deadline)
        now = ctx.clock.time()
        status, summary, details = judge(cfg, now, finding, details)
        return Result(status, summary, self._samples(finding, files, now), details)

    def _candidates(self, listing: Listing) -> tuple[list[FileInfo], int]:
        """Backups newest first, and how many matched files had no timestamp in their name."""
        name_time = self.config.name_time
        out: list[FileInfo] = []
        ignored = 0
        for path, st in listing.files.items():
            if path.endswith(_SIDECAR):  # checksum files sit next to the backups they describe
                continue
            when = st.st_mtime
            if name_time is not None:
                parsed = name_time.parse(os.path.basename(path))
                if parsed is None:
                    ignored += 1
                    continue
                when = parsed
            out.append(FileInfo(path, st.st_size, st.st_mtime, st.st_mtime_ns, when))
        out.sort(key=lambda f: (f.when, f.path), reverse=True)
        return out, ignored

    async def _verify(self, ctx: Context, newest: FileInfo, finding: Finding, deadline: float) -> str | None:
        """Verify the newest file (or reuse a recent verdict); returns an error text if it could not be done."""
        kind = self.config.verify
        assert kind is not None
        key = (newest.path, newest.mtime_ns, newest.size)
        now = ctx.clock.time()
        cached = self._verified.get(key)
        if cached is not None and now - cached[0] < self.config.verify_every:
            finding.verdict, finding.verified_at = cached[1], cached[0]
            return None
        try:
            verdict = await _in_thread(self._key, lambda stop: verify_file(kind, newest.path, deadline, stop))
        except StillRunning as exc:
            return _stuck("verifying", newest.path, exc)
        except Deadline:
            return (
                f"could not verify {os.path.basename(newest.path)} ({format_size(newest.size)}) within the"
                f" {format_duration(ctx.timeout)} timeout; give this check a longer timeout:"
            )
        except PermissionError:
            user = await asyncio.to_thread(agent_user)  # NSS may ask LDAP: not on the loop
            return (
                f"cannot read {newest.path}: permission denied for user {user}"
                f" (e.g. setfacl -m u:{user}:r {newest.path})"
            )
        except FileNotFoundError:
            return f"{newest.path} disappeared while it was being verified (rotated?)"
        except OSError as exc:  # a FIFO or device swapped in for the file since the listing
            return f"cannot read {exc.filename or newest.path}: {describe_os_error(exc)}"
        self._verified = {key: (now, verdict)}  # only the newest file's verdict is worth keeping
        finding.verdict, finding.verified_at = verdict, now
        return None

    def _samples(self, finding: Finding, files: list[FileInfo], now: float) -> tuple[Sample, ...]:
        newest = finding.newest
        samples = [
            Sample("sitewatch_backup_age_seconds", max(0.0, now - newest.when)),
            Sample("sitewatch_backup_size_bytes", newest.size),
            Sample("sitewatch_backup_count", finding.count),
            Sample("sitewatch_backup_total_bytes", finding.total),
            Sample("sitewatch_backup_last_success_timestamp_seconds", _last_success(self.config, finding, files)),
        ]
        if self.config.verify is not None:
            good = finding.verdict is not None and finding.verdict.problem is None
            samples.append(Sample("sitewatch_backup_verified", 1.0 if good else 0.0))
        return tuple(samples)

    # -- remote object -----------------------------------------------------------------

    async def _run_url(self, ctx: Context) -> Result:
        assert self.url is not None
        cfg = self.config
        details: dict[str, Any] = {"url": redact_url(self.url)}
        try:
            async with asyncio.timeout(ctx.timeout):
                remote = await stat_remote(ctx, self.url, dict(cfg.headers), cfg.verify_tls)
        except RemoteFailure as exc:
            return Result(exc.status, exc.summary, (), details)
        except TimeoutError:
            return Result(
                Status.ERROR, f"{details['url']} did not answer within {format_duration(ctx.timeout)}", (), details
            )
        now = ctx.clock.time()
        name = self.url.name or details["url"]
        newest = FileInfo(details["url"], remote.size or 0, remote.modified, 0, remote.modified)
        finding = Finding(newest=newest, previous=None, count=1, total=newest.size, size_known=remote.size is not None)
        details["method"] = remote.method
        status, summary, details = judge(cfg, now, finding, details, label=name)
        samples = [Sample("sitewatch_backup_age_seconds", max(0.0, now - remote.modified))]
        if remote.size is not None:
            samples.append(Sample("sitewatch_backup_size_bytes", remote.size))
        good = not size_problems(cfg, finding)
        samples.append(Sample("sitewatch_backup_last_success_timestamp_seconds", remote.modified if good else 0.0))
        return Result(status, summary, tuple(samples), details)


def _last_success(cfg: BackupConfig, finding: Finding, files: list[FileInfo]) -> float:
    """Time of the newest backup that is big enough; the newest one must also pass ratio and verify."""
    if not size_problems(cfg, finding) and finding.verify_ok is not False:
        return finding.newest.when
    return next((f.when for f in files[1:] if f.size >= cfg.min_size), 0.0)


#: Backup directories may sit on NFS: listing and verifying use a few daemon threads of this
#: check's own, never the event loop's shared executor.
_FILES = FileWorkers("backup-files", size=4)


async def _in_thread(key: str, work: Callable[[threading.Event], T]) -> T:
    """Run blocking ``work`` in the check's workers; on cancellation tell it to stop at its next chunk."""
    stop = threading.Event()
    try:
        return await _FILES.run(key, lambda: work(stop))
    except asyncio.CancelledError:
        stop.set()
        raise


def _stuck(what: str, where: str, exc: StillRunning) -> str:
    stuck = format_duration(exc.seconds)
    return f"{what} {where}: the previous run's read is still stuck after {stuck} (hung filesystem?)"
