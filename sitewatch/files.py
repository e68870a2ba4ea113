"""Reading files a check does not own: regular files only, and blocking work in daemon threads.

A docroot or a backup directory belongs to someone else. A FIFO where ``version.php``
should be blocks ``open()`` forever; a hung NFS mount blocks ``stat()`` itself. So a
file is opened only after ``stat`` says it is a regular file, with ``O_NONBLOCK`` (a
FIFO swapped in between then cannot block), and ``fstat`` confirms it. What still
blocks runs in a :class:`FileWorkers` pool: a few daemon threads of the check's own,
never the event loop's default executor, so a stuck thread neither starves other
checks nor keeps the process from exiting. Re-exported by :mod:`sitewatch.probe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import queue
import stat
import threading
import time
from collections.abc import Callable
from typing import BinaryIO, TypeVar

__all__ = [
    "FileWorkers",
    "NotRegularFile",
    "StillRunning",
    "describe_os_error",
    "open_regular",
    "read_regular",
    "regular_fd",
]

T = TypeVar("T")

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
}


class NotRegularFile(OSError):
    """The path is a FIFO, socket, device or directory: refused without opening (or reading) it."""

    def __init__(self, path: str | os.PathLike[str], mode: int) -> None:
        kind = _KINDS.get(stat.S_IFMT(mode), "something else")
        super().__init__(errno.EINVAL, f"not a regular file but {kind}", os.fspath(path))


def regular_fd(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> int:
    """A read-only descriptor of ``path`` if it is a regular file; blocking (``stat`` may hang): call in a thread.

    Symlinks are followed by default (a docroot may link a release directory), but their
    target must be a regular file too; ``follow_symlinks=False`` refuses a symlink itself.
    Raises :class:`NotRegularFile`, or the ``OSError`` of ``stat``/``open``.
    """
    st = os.stat(path, follow_symlinks=follow_symlinks)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(path, st.st_mode)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)  # the path may have been swapped for a FIFO since the stat above
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, st.st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> BinaryIO:
    """:func:`regular_fd` as a binary file object."""
    return os.fdopen(regular_fd(path, follow_symlinks=follow_symlinks), "rb")


def read_regular(path: str | os.PathLike[str], limit: int, *, follow_symlinks: bool = True) -> bytes | None:
    """The first ``limit`` bytes of the regular file ``path``; ``None`` if it does not exist. Blocking.

    A directory where a file is expected counts as absent; a FIFO, socket or device raises
    :class:`NotRegularFile`; permission and other errors propagate ("cannot read" is not "absent").
    """
    try:
        with open_regular(path, follow_symlinks=follow_symlinks) as handle:
            return handle.read(limit)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except NotRegularFile as exc:
        if "directory" in str(exc.strerror):
            return None
        raise


def describe_os_error(exc: OSError) -> str:
    """Why a path could not be read, in a few words: ``permission denied``, ``symlink loop``, …"""
    if isinstance(exc, NotRegularFile):
        return str(exc.strerror)
    words = {errno.EACCES: "permission denied", errno.EPERM: "permission denied", errno.ELOOP: "symlink loop"}
    return words.get(exc.errno or 0) or (exc.strerror or type(exc).__name__).lower()


class StillRunning(Exception):
    """Work under the same key from an earlier run is still stuck in a thread."""

    def __init__(self, key: str, seconds: float) -> None:
        super().__init__(f"{key}: still busy since {seconds:.0f}s")
        self.key = key
        self.seconds = seconds


class _Job:
    __slots__ = ("abandoned", "finished", "func", "future", "key", "loop", "submitted")

    def __init__(self, key: str, func: Callable[[], object], loop: asyncio.AbstractEventLoop) -> None:
        self.key = key
        self.func = func
        self.loop = loop
        self.future: asyncio.Future[object] = loop.create_future()
        self.abandoned = threading.Event()  # the caller gave up: do not start it
        self.finished = False  # set by the worker under the pool's lock
        self.submitted = time.monotonic()


class FileWorkers:
    """A bounded pool of daemon threads for one check type's blocking file work.

    At most ``size`` threads ever exist. Work is keyed (a root, a backup path): when a
    caller gave up on its work (its timeout) and that work is still in a thread, the key
    is stuck, and :meth:`run` refuses new work for it with :class:`StillRunning` until the
    thread returns, instead of leaking another thread per run. Concurrent callers under
    one key (two sites sharing a docroot) are fine.
    """

    def __init__(self, name: str, size: int = 4) -> None:
        self.name = name
        self.size = size
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._stuck: dict[str, _Job] = {}  # key -> abandoned work still queued or running

    def busy(self) -> dict[str, float]:
        """Stuck keys (work abandoned by its caller, still in a thread), with the seconds since submission."""
        now = time.monotonic()
        with self._lock:
            return {key: now - job.submitted for key, job in self._stuck.items()}

    async def run(self, key: str, func: Callable[[], T]) -> T:
        """Run blocking ``func`` in a worker; cancelling the caller abandons it (the thread is not killed)."""
        loop = asyncio.get_running_loop()
        job = _Job(key, func, loop)
        with self._lock:
            if key in self._stuck:
                raise StillRunning(key, time.monotonic() - self._stuck[key].submitted)
            # A new thread only when every existing one is taken (stuck ones included), up to ``size``.
            if self._idle <= self._queue.qsize() and self._threads < self.size:
                self._threads += 1
                threading.Thread(target=self._work, name=f"{self.name}-{self._threads}", daemon=True).start()
        self._queue.put(job)
        try:
            return await job.future  # type: ignore[return-value]  # func's T, stored as object
        except asyncio.CancelledError:
            job.abandoned.set()
            with self._lock:
                if not job.finished:
                    self._stuck.setdefault(key, job)
            raise

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._queue.get()
            with self._lock:
                self._idle -= 1
            value: object = None
            error: BaseException | None = None
            if not job.abandoned.is_set():
                try:
                    value = job.func()
                except BaseException as exc:  # handed to the caller, who decides
                    error = exc
            with self._lock:
                job.finished = True
                if self._stuck.get(job.key) is job:
                    del self._stuck[job.key]
            _settle(job, value, error)


def _settle(job: _Job, value: object, exc: BaseException | None) -> None:
    def settle() -> None:
        if job.future.done():
            return
        if exc is not None:
            job.future.set_exception(exc)
        else:
            job.future.set_result(value)

    with contextlib.suppress(RuntimeError):  # the loop closed while the thread was stuck: nobody waits
        job.loop.call_soon_threadsafe(settle)
