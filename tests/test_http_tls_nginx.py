"""The http check's TLS sessions against Debian's real nginx on 127.0.0.1, with a certificate swap and reload.

The Python servers of test_http_tls_sessions.py model a reload as a new context; this holds the
claim about nginx itself: `nginx -s reload` renews its session ticket keys, so the session cached
from the old certificate is declined and the very next probe reads the new certificate's expiry.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.helpers import free_port, need_daemon, wait_for
from tests.test_http_tls_sessions import PAGE, Prober, expiry, resumed

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
CERT_A = NOW + dt.timedelta(days=7)  # short expiry: the certificate about to be renewed
CERT_B = NOW + dt.timedelta(days=97)  # its replacement


@dataclass
class Nginx:
    """A running nginx master of our own: its binary, config, PID and HTTPS port."""

    binary: str
    prefix: Path
    port: int
    master: int

    def command(self, *args: str) -> list[str]:
        """An nginx command line for this instance (its config and prefix)."""
        return [self.binary, "-c", str(self.prefix / "nginx.conf"), "-p", str(self.prefix), *args]

    def workers(self) -> set[int]:
        """PIDs of the master's worker processes, from /proc (a reload replaces them all)."""
        found = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == self.master:
                        found.add(int(entry.name))
        return found


def write_certificate(ca: trustme.CA, prefix: Path, not_after: dt.datetime) -> None:
    """Key and chain for 127.0.0.1 at the paths nginx.conf names, replaced atomically as a deploy does."""
    staged = prefix / "site.pem.new"
    ca.issue_cert("127.0.0.1", not_after=not_after).private_key_and_cert_chain_pem.write_to_path(str(staged))
    staged.replace(prefix / "site.pem")


def nginx_config(prefix: Path, port: int, protocol: str) -> str:
    """One HTTPS server on 127.0.0.1 only, gzip'd chunked answers, nginx's default ticket handling."""
    temp = "".join(f"  {kind}_temp_path {prefix}/tmp_{kind};\n" for kind in ("client_body", "proxy", "fastcgi"))
    temp += "".join(f"  {kind}_temp_path {prefix}/tmp_{kind};\n" for kind in ("uwsgi", "scgi"))
    # As root the workers would drop to nobody, who cannot read pytest's 0700 tmp dir.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log info;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n  access_log off;\n{temp}"
        "  gzip on;\n  gzip_types text/html;\n  gzip_min_length 0;\n  gzip_buffers 64 1k;\n"
        f"  server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_protocols {protocol};\n"
        f"    ssl_certificate {prefix}/site.pem;\n    ssl_certificate_key {prefix}/site.pem;\n"
        f"    root {prefix}/html;\n    location / {{ default_type text/html; index index.html; }}\n  }}\n}}\n"
    )


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.asynccontextmanager
async def nginx(ca: trustme.CA, prefix: Path, protocol: str) -> AsyncIterator[Nginx]:
    """Debian's nginx serving PAGE over HTTPS with certificate A; stopped by its PID afterwards."""
    binary = need_daemon("nginx", "nginx-light")
    (prefix / "html").mkdir(parents=True)
    (prefix / "html" / "index.html").write_bytes(PAGE)
    write_certificate(ca, prefix, CERT_A)
    port = free_port()
    (prefix / "nginx.conf").write_text(nginx_config(prefix, port, protocol))
    log = (prefix / "stderr.log").open("wb")
    args = [binary, "-c", str(prefix / "nginx.conf"), "-p", str(prefix)]
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220 - started once, stopped by PID
    try:
        await wait_for(lambda: _accepts(port) or proc.poll() is not None, what="nginx to listen")
        assert proc.poll() is None, (prefix / "stderr.log").read_text() + (prefix / "error.log").read_text()
        yield Nginx(binary, prefix, port, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.mark.parametrize("protocol", ["TLSv1.2", "TLSv1.3"])
async def test_nginx_reload_with_a_new_certificate_shows_in_the_next_probe(
    ca: trustme.CA, tmp_path: Path, protocol: str
) -> None:
    """A session resumes on nginx; after the certificate files are replaced and nginx reloaded, the next probe
    does a full handshake and reports the new certificate's expiry."""
    async with nginx(ca, tmp_path / "nginx", protocol) as server:
        prober = Prober(server.port)
        before = [await prober.probe() for _ in range(2)]
        old_workers = server.workers()
        write_certificate(ca, server.prefix, CERT_B)
        subprocess.run(server.command("-s", "reload"), check=True, capture_output=True)  # noqa: ASYNC221
        # The reload is done when every old worker has gone and a new one serves.
        await wait_for(lambda: bool(server.workers()) and not server.workers() & old_workers, what="nginx reload")
        after = await prober.probe()
    assert [resumed(r) for r in before] == [False, True]  # a session was cached and nginx accepted it
    assert expiry(before[-1]) == CERT_A.timestamp()
    assert not resumed(after)  # the reload renewed the ticket keys: the old session was declined
    assert expiry(after) == CERT_B.timestamp()
