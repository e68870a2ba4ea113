"""The sd_notify protocol without a dependency: one datagram to ``$NOTIFY_SOCKET``."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

__all__ = ["Notifier"]


class Notifier:
    """Sends ``READY=1``, ``RELOADING=1``, ``STATUS=…`` and ``WATCHDOG=1`` to systemd.

    Outside systemd (no ``NOTIFY_SOCKET``) every call is a cheap no-op.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        # A leading "@" names a socket in the abstract namespace.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval = int(usec) / 1e6 if usec.isdigit() and mine and int(usec) > 0 else None

    @property
    def enabled(self) -> bool:
        """True when running under a service manager that listens."""
        return bool(self._address)

    def send(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines in one datagram; False when not under systemd or on error."""
        if not self._address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(lines).encode(), self._address)
        except OSError:
            return False
        return True

    def ready(self, status: str) -> bool:
        """Startup or reload finished."""
        return self.send("READY=1", f"STATUS={status}")

    def reloading(self) -> bool:
        """A reload started (systemd wants the monotonic time with it)."""
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> bool:
        """Shutdown started."""
        return self.send("STOPPING=1", "STATUS=stopping")

    def status(self, text: str) -> bool:
        """A one-line status for `systemctl status`."""
        return self.send(f"STATUS={text}")

    def watchdog(self) -> bool:
        """Tell systemd the agent is making progress."""
        return self.send("WATCHDOG=1")
