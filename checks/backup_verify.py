"""Integrity of one backup file: stream it through a decoder, or compare its checksum.

Everything here blocks and runs in a worker thread. A thread cannot be killed, so
the work is cooperative: every read goes through :class:`_BoundedFile`, which
raises :class:`Deadline` once the deadline passes or the run is cancelled, and
the caller's ``finally`` closes the file. Reads are 1 MiB chunks, so the thread
notices within one chunk.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import re
import tarfile
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Any, Protocol, cast

from checks.backup_files import Deadline
from sitewatch.probe import read_regular, regular_fd

__all__ = ["CHUNK", "Verdict", "verify_file"]

CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of one verification: ``problem`` is None when the file is sound."""

    problem: str | None
    detail: str  # what was read: "2 members, 200.0 MiB" or the checksum


class _BoundedFile(io.FileIO):
    """A read-only file whose reads fail with :class:`Deadline` once time is up."""

    def __init__(self, path: str, deadline: float, stop: threading.Event) -> None:
        # Only a regular file, opened non-blocking: a FIFO swapped in since the listing cannot hang us.
        super().__init__(regular_fd(path), "rb")
        self._deadline = deadline
        self._stop = stop

    def _check(self) -> None:
        if self._stop.is_set() or time.monotonic() > self._deadline:
            raise Deadline(f"verifying {self.name}")

    def read(self, size: int | None = -1) -> bytes:
        self._check()
        return super().read(size)

    def readinto(self, buffer: Any) -> int:
        self._check()
        return super().readinto(buffer)


def verify_file(kind: str, path: str, deadline: float, stop: threading.Event) -> Verdict:
    """Verify ``path`` as ``kind`` (gzip, zip, tar, sha256).

    Raises :class:`Deadline` when out of time and :class:`PermissionError` when the
    agent may not read the file (both mean "could not measure"); any other damage
    is returned as a :class:`Verdict` with a problem in words.
    """
    if kind == "sha256":
        return _sha256(path, deadline, stop)
    if os.path.getsize(path) == 0:
        return Verdict("archive is empty (0 bytes)", "")
    with _BoundedFile(path, deadline, stop) as raw:
        try:
            if kind == "gzip":
                return _gzip(raw)
            if kind == "zip":
                return _zip(raw)
            return _tar(raw)
        except (Deadline, PermissionError):
            raise
        except EOFError:
            return Verdict(f"archive is truncated ({_layer(kind, raw)}: unexpected end of stream)", "")
        except tarfile.ReadError as exc:
            what = "truncated" if "unexpected end" in str(exc) or "empty" in str(exc) else "corrupt"
            return Verdict(f"archive is {what} (tar: {exc})", "")
        except zipfile.BadZipFile as exc:
            return Verdict(f"archive is truncated or not a zip file (zip: {exc})", "")
        except (gzip.BadGzipFile, zlib.error, lzma.LZMAError, tarfile.TarError, OSError, ValueError) as exc:
            return Verdict(f"archive is corrupt ({_layer(kind, raw)}: {exc})", "")


class _Stream(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def _drain(stream: _Stream) -> int:
    total = 0
    while chunk := stream.read(CHUNK):
        total += len(chunk)
    return total


def _gzip(raw: _BoundedFile) -> Verdict:
    # GzipFile checks the end-of-stream marker, the CRC and the length of every member.
    with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
        total = _drain(stream)
    return Verdict(None, f"{total} bytes uncompressed")


_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))


def _compression(raw: _BoundedFile) -> str | None:
    """The compression a tar file is wrapped in, from its first bytes."""
    pos = raw.tell()
    raw.seek(0)
    head = raw.read(6)
    raw.seek(pos)
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def _layer(kind: str, raw: _BoundedFile) -> str:
    """Name of the format that failed, for the summary: the compression layer if there is one."""
    return (_compression(raw) or "tar") if kind == "tar" else kind


def _decoder(name: str | None, raw: _BoundedFile) -> gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile | None:
    if name == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if name == "bzip2":
        return bz2.BZ2File(raw, "rb")
    if name == "xz":
        return lzma.LZMAFile(raw, "rb")
    return None


def _tar(raw: _BoundedFile) -> Verdict:
    # The compression layer is decoded by its own module, not by tarfile's stream mode,
    # because that one never reads the gzip trailer: a .tar.gz cut inside its final
    # padding would pass. Draining the decoder to the end checks the trailer and CRC.
    decoder = _decoder(_compression(raw), raw)
    stream = cast(IO[bytes], decoder or raw)
    members = size = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                members += 1
                if member.isfile():
                    data = archive.extractfile(member)
                    if data is not None:
                        size += _drain(data)
        _drain(stream)
    finally:
        if decoder is not None:
            decoder.close()
    return Verdict(None, f"{members} members, {size} bytes")


def _zip(raw: _BoundedFile) -> Verdict:
    with zipfile.ZipFile(raw) as archive:
        bad = archive.testzip()  # reads and CRC-checks every member through ``raw``
        count = len(archive.infolist())
    if bad is not None:
        return Verdict(f"archive is corrupt (zip: bad CRC or data in member {bad[:120]!r})", "")
    return Verdict(None, f"{count} members")


def _sha256(path: str, deadline: float, stop: threading.Event) -> Verdict:
    sidecar = path + ".sha256"
    name = os.path.basename(sidecar)
    data = read_regular(sidecar, 64 * 1024)  # a FIFO or device here raises instead of blocking
    if data is None:
        return Verdict(f"checksum file {name} is missing", "")
    text = data.decode("utf-8", "replace")
    expected = _expected_digest(text, os.path.basename(path))
    if expected is None:
        return Verdict(f"checksum file {name} has no SHA-256 line for {os.path.basename(path)}", "")
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with _BoundedFile(path, deadline, stop) as raw:
        while count := raw.readinto(buffer):
            digest.update(view[:count])
    actual = digest.hexdigest()
    if actual != expected:
        return Verdict(f"checksum does not match {name} (expected {expected[:12]}…, got {actual[:12]}…)", actual)
    return Verdict(None, f"sha256 {actual}")


def _expected_digest(text: str, filename: str) -> str | None:
    """The digest for ``filename`` from ``sha256sum`` output (``HEX  name`` or ``HEX *name``), or a bare digest."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    for line in lines:
        digest, _, rest = line.partition(" ")
        named = rest.strip().lstrip("*")
        if _SHA256.fullmatch(digest) and (os.path.basename(named) == filename or (not named and len(lines) == 1)):
            return digest.lower()
    if len(lines) == 1 and _SHA256.fullmatch(lines[0].split()[0]):
        return lines[0].split()[0].lower()  # one line naming another file: the job renamed it afterwards
    return None
