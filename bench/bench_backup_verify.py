"""Cost of backup verification against the tools an admin would use, and what the event loop feels.

Run: ``.venv/bin/python bench/bench_backup_verify.py [MiB]`` (default 200). Prints, per
kind, the check's time against ``gzip -t`` / ``tar -xzOf`` / ``sha256sum -c`` as a
ratio, and the worst event-loop stall seen by a 10 ms ticker while the check ran.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from checks.backup_verify import verify_file


def _make(directory: Path, mib: int) -> dict[str, Path]:
    """A half-compressible payload (like a SQL dump), as .gz, .tar.gz and a plain file with a sidecar."""
    rng = random.Random(1)
    payload = directory / "dump.sql"
    with payload.open("wb") as fh:
        for _ in range(mib):
            fh.write(rng.randbytes(512 * 1024) + bytes(512 * 1024))
    subprocess.run(["gzip", "-1", "-k", str(payload)], check=True)
    with tarfile.open(directory / "dump.tar.gz", "w:gz", compresslevel=1) as archive:
        archive.add(payload, "dump.sql")
    digest = hashlib.sha256(payload.read_bytes()).hexdigest()
    (directory / "dump.sql.sha256").write_text(f"{digest}  dump.sql\n")
    return {"gzip": directory / "dump.sql.gz", "tar": directory / "dump.tar.gz", "sha256": payload}


def _peer(kind: str, path: Path) -> float:
    command = {
        "gzip": ["gzip", "-t", str(path)],
        "tar": ["tar", "-xzOf", str(path)],
        "sha256": ["sha256sum", "--quiet", "-c", f"{path.name}.sha256"],
    }[kind]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=path.parent, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


async def _ours(kind: str, path: Path) -> tuple[float, float]:
    """Seconds the check's verification takes in a thread, and the worst loop stall meanwhile."""
    stall = 0.0
    start = time.perf_counter()
    work = asyncio.create_task(
        asyncio.to_thread(verify_file, kind, str(path), time.monotonic() + 600, threading.Event())
    )
    while not work.done():
        tick = time.perf_counter()
        await asyncio.sleep(0.01)  # a ticker: how late does a 10 ms timer fire?
        stall = max(stall, time.perf_counter() - tick - 0.01)
    verdict = await work
    assert verdict.problem is None, verdict
    return time.perf_counter() - start, stall


async def main(mib: int) -> None:
    """Build the files once, then compare each kind."""
    with tempfile.TemporaryDirectory() as tmp:
        files = _make(Path(tmp), mib)
        print(f"payload {mib} MiB, python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        for kind, path in files.items():
            peer = _peer(kind, path)
            ours, stall = await _ours(kind, path)
            line = f"{kind:7} check {ours:6.2f}s  peer {peer:6.2f}s  ratio {ours / peer:5.2f}"
            print(f"{line}  max loop stall {stall * 1000:5.1f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
