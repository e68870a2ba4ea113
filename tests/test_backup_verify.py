"""verify: of the backup check: real archives, truncated and corrupted, checksums, time bounds, scheduling."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import io
import logging
import os
import random
import tarfile
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from sitewatch.engine.results import Histogram, RunRecord
from sitewatch.engine.scheduler import Scheduler
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import Status, SystemClock
from tests.helpers import make_spec, run_check, serve, wait_for
from tests.test_backup_check import put, sample

MiB = 2**20


def tar_gz(members: dict[str, bytes]) -> bytes:
    """A real .tar.gz holding ``members``."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def plain_tar(members: dict[str, bytes]) -> bytes:
    """A real uncompressed tar holding ``members``."""
    return gzip.decompress(tar_gz(members))


DUMP = random.Random(4).randbytes(300_000)  # incompressible, so a cut lands inside real data


@contextlib.asynccontextmanager
async def scheduler(
    on_result: list[RunRecord] | None = None, lag: Histogram | None = None, offsets: tuple[float, ...] = ()
) -> AsyncIterator[Scheduler]:
    """A real scheduler, closed afterwards; the n-th check applied first runs ``offsets[n]`` s from now (default 0)."""
    phases = iter(offsets)

    class _Phases(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return a + next(phases, 0.0)

    resolver = ProbeResolver(static={}, fallback=None)
    session = make_session(resolver, user_agent="sitewatch-test")
    records = on_result if on_result is not None else []
    sched = Scheduler(
        session=session,
        resolver=resolver,
        clock=SystemClock(),
        concurrency=10,
        per_host=10,
        on_result=records.append,
        lag=lag or Histogram(),
        log=logging.getLogger("sitewatch.test"),
        rng=_Phases(),
    )
    try:
        yield sched
    finally:
        await sched.stop(grace=5.0)
        await session.close()


async def test_sound_tar_gz_is_verified(tmp_path: Path) -> None:
    """A complete .tar.gz is read to the end: ok, verified=1, and what was read is in the details."""
    put(tmp_path, "shop.tar.gz", data=tar_gz({"dump.sql": DUMP, "files/a.txt": b"a"}))
    record = await run_check("backup", {"path": str(tmp_path / "shop.tar.gz"), "verify": "tar"})
    assert record.result.status is Status.OK, record.result.summary
    assert record.result.summary.endswith("; tar verified")
    assert sample(record, "verified") == 1
    assert record.result.details["verify"]["detail"] == f"2 members, {len(DUMP) + 1} bytes"


@pytest.mark.parametrize(
    ("name", "kind", "data", "problem"),
    [
        ("db.sql.gz", "gzip", gzip.compress(DUMP)[:150_000], "archive is truncated (gzip: unexpected end of stream)"),
        (
            "db.tar",
            "tar",
            plain_tar({"dump.sql": DUMP})[:150_000],
            "archive is truncated (tar: unexpected end of data)",
        ),
        (
            "db.tar.gz",
            "tar",
            tar_gz({"dump.sql": DUMP})[:150_000],
            "archive is truncated (gzip: unexpected end of stream)",
        ),
        # Only the gzip trailer (CRC and length) is missing: tarfile's own stream mode would accept this.
        ("cut.tar.gz", "tar", tar_gz({"dump.sql": DUMP})[:-8], "archive is truncated (gzip: unexpected end of stream)"),
        ("db.tar.gz", "tar", b"", "archive is empty (0 bytes)"),
        (
            "db.zip",
            "zip",
            b"PK\x03\x04" + DUMP[:1000],
            "archive is truncated or not a zip file (zip: File is not a zip file)",
        ),
    ],
)
async def test_damaged_archive_is_critical(tmp_path: Path, name: str, kind: str, data: bytes, problem: str) -> None:
    """A truncated or empty archive fails verification: critical, verified=0, no last success."""
    put(tmp_path, name, data=data)
    record = await run_check("backup", {"path": str(tmp_path / name), "verify": kind, "min_size": 0})
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == f"newest backup {name}: {problem}"
    assert sample(record, "verified") == 0
    assert sample(record, "last_success_timestamp_seconds") == 0


async def test_empty_archive_is_reported_once(tmp_path: Path) -> None:
    """An empty newest backup with verify: on is critical once, as empty, and not verified."""
    put(tmp_path, "db.sql.gz", 0)
    record = await run_check("backup", {"path": str(tmp_path / "db.sql.gz"), "verify": "gzip"})
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == "newest backup db.sql.gz is empty (0 bytes)"
    assert sample(record, "verified") == 0


async def test_gzip_that_is_not_gzip_is_corrupt(tmp_path: Path) -> None:
    """A file that is not gzip at all is reported as corrupt, with the decoder's reason."""
    put(tmp_path, "db.sql.gz", data=b"-- MySQL dump\n" + DUMP[:100])
    record = await run_check("backup", {"path": str(tmp_path / "db.sql.gz"), "verify": "gzip"})
    assert record.result.status is Status.CRITICAL
    assert record.result.summary.startswith("newest backup db.sql.gz: archive is corrupt (gzip: Not a gzipped file")


async def test_zip_with_a_damaged_member_is_critical(tmp_path: Path) -> None:
    """testzip() finds a member whose data no longer matches its CRC; a sound zip passes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("dump.sql", DUMP)
    data = bytearray(out.getvalue())
    put(tmp_path, "good.zip", data=bytes(data), age_h=2)
    good = await run_check("backup", {"path": str(tmp_path / "good.zip"), "verify": "zip"})
    assert good.result.status is Status.OK, good.result.summary
    data[1000] ^= 0xFF  # inside the stored member's data
    put(tmp_path, "bad.zip", data=bytes(data))
    record = await run_check("backup", {"path": str(tmp_path / "*.zip"), "verify": "zip"})
    assert (
        record.result.summary == "newest backup bad.zip: archive is corrupt (zip: bad CRC or data in member 'dump.sql')"
    )


async def test_sha256_sidecar_is_compared(tmp_path: Path) -> None:
    """verify: sha256 compares with <file>.sha256 in sha256sum format; a mismatch or a missing sidecar fails."""
    archive = put(tmp_path, "shop.tar.gz", data=DUMP)
    digest = hashlib.sha256(DUMP).hexdigest()
    settings = {"path": str(tmp_path / "*.tar.gz"), "verify": "sha256"}
    put(tmp_path, "shop.tar.gz.sha256", data=f"{digest}  /var/backups/shop.tar.gz\n".encode())
    record = await run_check("backup", settings)
    assert record.result.status is Status.OK, record.result.summary
    assert sample(record, "verified") == 1

    put(tmp_path, "shop.tar.gz.sha256", data=f"{'0' * 64} *shop.tar.gz\n".encode())
    record = await run_check("backup", settings)
    assert record.result.status is Status.CRITICAL
    assert record.result.summary == (
        f"newest backup shop.tar.gz: checksum does not match shop.tar.gz.sha256"
        f" (expected 000000000000…, got {digest[:12]}…)"
    )
    os.unlink(f"{archive}.sha256")
    record = await run_check("backup", settings)
    assert record.result.summary == "newest backup shop.tar.gz: checksum file shop.tar.gz.sha256 is missing"


async def test_verify_every_reuses_the_verdict_for_an_unchanged_file(tmp_path: Path) -> None:
    """The same file (path, mtime, size) is not re-read within verify_every; without it, every run reads it."""
    archive = put(tmp_path, "db.sql.gz", data=gzip.compress(DUMP))
    good = archive.read_bytes()
    st = archive.stat()
    cached = make_spec("backup", {"path": str(archive), "verify": "gzip", "verify_every": "7d"})
    always = make_spec("backup", {"path": str(archive), "verify": "gzip"})
    async with scheduler() as sched:
        cached_check, always_check = cached.build(), always.build()
        assert (await sched.run_once(cached, cached_check)).result.status is Status.OK
        assert (await sched.run_once(always, always_check)).result.status is Status.OK
        # Same size and mtime, different bytes: only a re-read can notice.
        archive.write_bytes(good[: len(good) // 2] + bytes(len(good) - len(good) // 2))
        os.utime(archive, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert (await sched.run_once(cached, cached_check)).result.status is Status.OK
        again = await sched.run_once(always, always_check)
    assert again.result.status is Status.CRITICAL
    assert "archive is corrupt (gzip:" in again.result.summary


async def test_verification_stops_at_the_check_timeout(tmp_path: Path) -> None:
    """A verification that cannot finish in time stops itself and reports an error before the scheduler must."""
    put(tmp_path, "big.bin", 4 * 1024 * MiB)  # sparse: costs no disk, but 4 GiB to hash
    put(tmp_path, "big.bin.sha256", data=b"0" * 64 + b"  big.bin\n")
    record = await run_check("backup", {"path": str(tmp_path / "big.bin"), "verify": "sha256"}, timeout=0.2)
    assert record.result.status is Status.ERROR
    assert record.result.summary == (
        "could not verify big.bin (4.0 GiB) within the 200ms timeout; give this check a longer timeout:"
    )
    assert record.duration < 0.2 + 0.4  # the scheduler's own kill comes at timeout + 0.5 s
    assert sample(record, "verified") == 0


async def test_big_verification_does_not_hold_up_a_1s_http_check(tmp_path: Path) -> None:
    """While ~200 MB archives are verified back to back, a 1-second http check beside them keeps its schedule."""
    put(tmp_path, "big.bin", 200 * MiB)

    def build() -> None:
        with tarfile.open(tmp_path / "big.tar.gz", "w:gz", compresslevel=1) as archive:
            archive.add(tmp_path / "big.bin", "big.bin")

    await asyncio.to_thread(build)
    app = web.Application()

    async def page(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/", page)
    records: list[RunRecord] = []
    lag = Histogram()
    # The http check ticks at 0, 1, 2, 3 s; each verification starts 0.9 s into a second and takes
    # a few tenths of a second, so the next http tick falls inside it.
    async with serve(app) as base, scheduler(records, lag, offsets=(0.0, 0.9)) as sched:
        http = make_spec("http", {}, url=base + "/", name="http", interval=1.0, timeout=0.9)
        backup = make_spec(
            "backup", {"path": str(tmp_path / "big.tar.gz"), "verify": "tar"}, name="backup", interval=1.0, timeout=5
        )
        sched.apply([http, backup])
        loop = asyncio.create_task(sched.run())
        try:
            await wait_for(lambda: sum(r.check == "http" for r in records) >= 4, timeout=15, what="4 http runs")
        finally:
            await sched.stop(grace=5.0)
            await loop
    verifications = [r for r in records if r.check == "backup"]
    runs = [r for r in records if r.check == "http"]
    assert verifications, "no verification finished"
    for record in verifications:
        assert record.result.status is Status.OK, record.result.summary
        assert record.result.details["verify"]["detail"] == f"1 members, {200 * MiB} bytes"
    # Every http run was quick and on time although each verification holds a thread for a while.
    assert max(r.duration for r in runs) < 0.2, [r.duration for r in runs]
    starts = sorted(r.started for r in runs)
    assert max(b - a for a, b in zip(starts, starts[1:], strict=False)) < 1.1
    assert lag.quantile(1.0) <= 0.1, lag.cumulative()
    # And the verifications really overlapped the http runs.
    assert any(v.started <= h.started <= v.started + v.duration for v in verifications for h in runs)
