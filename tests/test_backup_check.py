"""The backup check against real files with set mtimes: age, size, ratio, retention, names, listing."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pydantic
import pytest

from checks.backup_config import BackupConfig
from sitewatch.engine.results import RunRecord
from sitewatch.probe import Status
from tests.helpers import run_check

HOUR = 3600.0


def put(directory: Path, name: str, size: int = 1000, age_h: float = 1.0, data: bytes | None = None) -> Path:
    """A file of ``size`` bytes (sparse, so big ones cost nothing) whose mtime is ``age_h`` hours ago."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if data is not None:
        path.write_bytes(data)
    else:
        with path.open("wb") as fh:
            fh.truncate(size)
    stamp = time.time() - age_h * HOUR
    os.utime(path, (stamp, stamp))
    return path


def sample(record: RunRecord, name: str) -> float | None:
    """Value of the sample ``sitewatch_backup_<name>``, or None if it was not emitted."""
    found = [s.value for s in record.result.samples if s.name == f"sitewatch_backup_{name}"]
    return found[0] if found else None


async def test_fresh_backups_are_ok_and_exported(tmp_path: Path) -> None:
    """Recent, non-empty backups are ok; age, size, count, total and last success are exported."""
    put(tmp_path, "shop-1.tar.gz", 5000, age_h=49)
    newest = put(tmp_path, "shop-2.tar.gz", 6000, age_h=2)
    record = await run_check("backup", {"path": str(tmp_path / "*.tar.gz"), "max_age": "26h"})
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.summary.startswith("newest backup shop-2.tar.gz is 2 h old, 5.9 KiB; 2 kept")
    assert sample(record, "size_bytes") == 6000
    assert sample(record, "count") == 2
    assert sample(record, "total_bytes") == 11000
    assert sample(record, "last_success_timestamp_seconds") == pytest.approx(newest.stat().st_mtime)
    assert 2 * HOUR - 60 < (sample(record, "age_seconds") or 0) < 2 * HOUR + 60
    assert sample(record, "verified") is None  # only exported when verify: is set


async def test_stale_backup_is_critical_with_its_age_and_limit(tmp_path: Path) -> None:
    """The newest backup older than max_age is critical, named, with its age and the limit in hours."""
    put(tmp_path, "shop-2026-11-23.tar.gz", age_h=73)
    put(tmp_path, "shop-2026-11-24.tar.gz", age_h=49.2)
    record = await run_check("backup", {"path": str(tmp_path / "*.tar.gz"), "max_age": "26h"})
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "newest backup shop-2026-11-24.tar.gz is 49 h old (max 26 h)"


async def test_empty_newest_backup_is_critical(tmp_path: Path) -> None:
    """A zero-byte newest backup (a dump that wrote nothing) is critical even without min_size."""
    put(tmp_path, "a.sql.gz", 4000, age_h=25)
    put(tmp_path, "b.sql.gz", 0, age_h=1)
    record = await run_check("backup", {"path": str(tmp_path / "*.sql.gz")})
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "newest backup b.sql.gz is empty (0 bytes)"
    # The previous, non-empty one is the last good backup.
    assert sample(record, "last_success_timestamp_seconds") == pytest.approx((tmp_path / "a.sql.gz").stat().st_mtime)


async def test_backup_below_min_size_is_critical(tmp_path: Path) -> None:
    """A backup smaller than min_size is critical and says both sizes."""
    put(tmp_path, "db.sql.gz", 512, age_h=1)
    record = await run_check("backup", {"path": str(tmp_path / "db.sql.gz"), "min_size": "10MiB"})
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "newest backup db.sql.gz is 512 B (min 10.0 MiB)"


async def test_shrunk_backup_is_critical_against_the_previous_one(tmp_path: Path) -> None:
    """A backup 92 % smaller than the one before it (a failed dump) fails min_ratio."""
    put(tmp_path, "shop-1.tar.gz", int(15.4 * 2**20), age_h=25)
    put(tmp_path, "shop-2.tar.gz", int(1.2 * 2**20), age_h=1)
    settings = {"path": str(tmp_path / "shop-*.tar.gz"), "min_ratio": 0.5}
    record = await run_check("backup", settings)
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == (
        "newest backup shop-2.tar.gz is 1.2 MiB, 92 % smaller than the previous 15.4 MiB (shop-1.tar.gz)"
    )
    # Without min_ratio the same files are fine: the ratio is opt-in.
    assert (await run_check("backup", {"path": settings["path"]})).result.status is Status.OK


async def test_too_few_backups_kept_is_a_warning(tmp_path: Path) -> None:
    """Fewer files than min_count is a retention warning, not an outage."""
    for day in range(3):
        put(tmp_path, f"shop-{day}.tar.gz", age_h=1 + 24 * day)
    record = await run_check("backup", {"path": str(tmp_path / "*.tar.gz"), "min_count": 7})
    assert record.result.status is Status.WARNING
    assert record.result.summary == "only 3 backups kept (min 7)"


async def test_total_size_over_max_total_is_a_warning(tmp_path: Path) -> None:
    """The whole set taking more than max_total (a disk filling up) is a warning."""
    put(tmp_path, "a.tar", 3 * 10**6, age_h=25)
    put(tmp_path, "b.tar", 3 * 10**6, age_h=1)
    record = await run_check("backup", {"path": str(tmp_path / "*.tar"), "max_total": "5MB"})
    assert record.result.status is Status.WARNING
    assert record.result.summary == "backups take 5.7 MiB (max 4.8 MiB)"


async def test_name_timestamp_orders_copies_that_lost_their_mtime(tmp_path: Path) -> None:
    """With name_time the newest is the latest name, not the latest mtime; names without one are ignored."""
    # rsync without -t: every copy has the same fresh mtime, the oldest name copied last.
    put(tmp_path, "shop-2026-11-24_0300.tar.gz", 200, age_h=0.2)
    put(tmp_path, "shop-2026-11-22_0300.tar.gz", 100, age_h=0.1)
    put(tmp_path, "shop-latest.tar.gz", 50, age_h=0.0)
    stamp = time.mktime((2026, 11, 24, 3, 0, 0, 0, 0, -1))
    settings = {"path": str(tmp_path / "*.tar.gz"), "name_time": "%Y-%m-%d_%H%M", "max_age": "1000d"}
    record = await run_check("backup", settings)
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.summary.startswith("newest backup shop-2026-11-24_0300.tar.gz is ")
    assert record.result.details["ignored"] == 1
    assert sample(record, "count") == 2
    assert sample(record, "age_seconds") == pytest.approx(time.time() - stamp, abs=30)
    assert sample(record, "last_success_timestamp_seconds") == stamp


async def test_name_time_with_no_matching_names_is_critical(tmp_path: Path) -> None:
    """If no file carries the configured timestamp, the summary names the pattern and the ignored files."""
    put(tmp_path, "shop-latest.tar.gz")
    record = await run_check("backup", {"path": str(tmp_path / "*.tar.gz"), "name_time": "%Y%m%d"})
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == (
        f"no backup in {tmp_path}/*.tar.gz has a timestamp like %Y%m%d in its name (1 files ignored)"
    )


async def test_no_files_matched_is_critical_with_the_pattern(tmp_path: Path) -> None:
    """A glob that matches nothing is critical and shows the pattern; a missing directory is named."""
    put(tmp_path, "notes.txt")
    record = await run_check("backup", {"path": str(tmp_path / "*.tar.gz")})
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == f"no backup files match {tmp_path}/*.tar.gz"
    assert sample(record, "count") == 0
    record = await run_check("backup", {"path": str(tmp_path / "gone" / "daily" / "*.gz")})
    assert record.result.summary == f"no backups: {tmp_path}/gone does not exist (path: {tmp_path}/gone/daily/*.gz)"


async def test_recursive_glob_and_several_paths_form_one_set(tmp_path: Path) -> None:
    """``**`` descends any depth, several paths form one set, hidden files and .sha256 sidecars are not backups."""
    put(tmp_path, "a/2026/11/db.sql.gz", age_h=30)
    put(tmp_path, "a/db.sql.gz", age_h=20)
    put(tmp_path, "a/.partial.sql.gz", age_h=0.1)
    put(tmp_path, "b/files.tar", age_h=5)
    put(tmp_path, "b/files.tar.sha256", age_h=0.1)
    paths = [str(tmp_path / "a" / "**" / "*.sql.gz"), str(tmp_path / "b" / "*")]
    record = await run_check("backup", {"path": paths})
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.summary.startswith("newest backup files.tar is 5 h old")
    assert sample(record, "count") == 3


def _shared_tree(lock: str) -> Iterator[Path]:
    """A ``shop`` directory with one backup below a tree anyone may traverse (tmp_path's parents are 0700).

    ``lock`` ("dir" or "file") is closed to everyone but root; for a non-root test
    run, which chmod can deny, it is closed to everyone (see as_user()).
    """
    closed = 0o700 if os.geteuid() == 0 else 0o000
    top = Path(tempfile.mkdtemp(prefix="sitewatch-backup-"))
    shop = top / "shop"
    try:
        top.chmod(0o755)
        put(shop, "shop.tar.gz").chmod(closed & 0o666 if lock == "file" else 0o644)
        shop.chmod(closed if lock == "dir" else 0o755)
        yield shop
    finally:
        shop.chmod(0o755)
        shutil.rmtree(top)


@pytest.fixture
def locked_dir() -> Iterator[Path]:
    """A directory only root may list, holding a backup."""
    yield from _shared_tree("dir")


@pytest.fixture
def locked_file() -> Iterator[Path]:
    """A backup only root may read, in a directory anyone may list."""
    yield from _shared_tree("file")


@contextlib.contextmanager
def as_user(name: str) -> Iterator[str]:
    """Run the enclosed code with the effective uid/gid of ``name`` when root; yields the user it runs as.

    chmod does not deny root, so root drops to ``name`` with seteuid (process-wide,
    every thread included, and reversible because the real uid stays 0). Another
    user is already unprivileged and stays itself.
    """
    if os.geteuid() != 0:
        yield pwd.getpwuid(os.geteuid()).pw_name
        return
    entry = pwd.getpwnam(name)
    os.setegid(entry.pw_gid)
    os.seteuid(entry.pw_uid)
    try:
        yield name
    finally:
        os.seteuid(0)
        os.setegid(0)


async def test_unreadable_directory_is_an_error_naming_path_and_user(locked_dir: Path) -> None:
    """A directory the agent may not list is an error naming the path, the agent's user and a fix.

    The kernel really refuses the listing (EACCES): as root the check runs with the
    effective uid of ``nobody``; as another user the directory is mode 000.
    """
    with as_user("nobody") as user:
        record = await run_check("backup", {"path": str(locked_dir / "*.tar.gz")})
    assert record.result.status is Status.ERROR
    assert record.result.summary == (
        f"cannot list {locked_dir}: permission denied for user {user}"
        f" (grant read access, e.g. setfacl -m u:{user}:rx {locked_dir})"
    )
    assert record.result.details["denied"] == [str(locked_dir)]


async def test_unreadable_archive_is_an_error_when_verifying(locked_file: Path) -> None:
    """A backup the agent may see but not read cannot be verified: an error with the file and a fix."""
    archive = locked_file / "shop.tar.gz"
    with as_user("nobody") as user:
        record = await run_check("backup", {"path": str(archive), "verify": "tar"})
    assert record.result.status is Status.ERROR
    assert record.result.summary == (
        f"cannot read {archive}: permission denied for user {user} (e.g. setfacl -m u:{user}:r {archive})"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "set path: (files on this server) or url: (a remote object)"),
        ({"path": "/b/*.gz", "url": "https://x/b.gz"}, "not both"),
        ({"path": "/b/*.gz", "headers": {"A": "b"}}, "headers cannot be used with source: files"),
        ({"url": "/b.gz", "verify": "gzip"}, "verify cannot be used with source: url"),
        ({"source": "url", "path": "/b/*.gz"}, "source: url needs url:"),
        ({"path": "backups/*.gz"}, "expected an absolute path"),
        ({"path": "/b/*.gz", "name_time": "%Y-%q"}, "unsupported directive %q"),
        ({"path": "/b/*.gz", "name_time": "%m%d"}, "has no year"),
        ({"path": "/b/*.gz", "min_ratio": 1.5}, "less than or equal to 1"),
        ({"path": "/b/*.gz", "max_age": 26}, "add a unit"),
        ({"path": "/b/*.gz", "verify": "rar"}, "'gzip', 'zip', 'tar' or 'sha256'"),
        ({"url": "ftp://x/b.gz"}, "expected an http"),
    ],
)
def test_bad_settings_are_rejected_at_load(settings: dict[str, object], message: str) -> None:
    """Contradictory or malformed settings fail validation with a message that says what to write."""
    with pytest.raises(pydantic.ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        BackupConfig.model_validate(settings)


def test_source_is_inferred_and_can_be_explicit() -> None:
    """source: is inferred from path:/url: and may be spelled out (room for a later heartbeat source)."""
    assert BackupConfig.model_validate({"path": "/b/*.gz"}).kind == "files"
    assert BackupConfig.model_validate({"url": "https://x/b.gz"}).kind == "url"
    assert BackupConfig.model_validate({"source": "files", "path": ["/a/*", "/b/*"]}).path == ("/a/*", "/b/*")


async def test_listing_is_bounded_by_the_timeout(tmp_path: Path) -> None:
    """A walk over a huge tree stops at the check's timeout and says so, instead of being killed."""
    for i in range(2000):
        (tmp_path / f"d{i:04}").mkdir()
    record = await run_check("backup", {"path": str(tmp_path / "**" / "*.gz")}, timeout=0.001)
    assert record.result.status is Status.ERROR
    assert record.result.summary == f"listing {tmp_path}/**/*.gz took longer than the 1ms timeout"
