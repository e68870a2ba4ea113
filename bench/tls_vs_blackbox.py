"""Compare the ``tls`` check's expiry numbers with blackbox_exporter on the same local targets.

Run: ``.venv/bin/python bench/tls_vs_blackbox.py``. Starts loopback TLS servers with
certificates of known dates, probes each with sitewatch's tls check and with
Debian's ``prometheus-blackbox-exporter`` (tcp prober, ``tls: true``), and prints a
table. Expiry timestamps must agree within 1 s; the exit status says whether they did.
Not part of the test suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yarl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from checks.tls import TlsCheck
from checks.tls_config import TlsConfig
from sitewatch.net.httpclient import ProbeResolver, make_session
from sitewatch.probe import Context, SiteInfo, SystemClock

EXPORTER = "prometheus-blackbox-exporter"
HOST = "shop.test"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)
METRICS = ("probe_ssl_earliest_cert_expiry", "probe_ssl_last_chain_expiry_timestamp_seconds")


def _cert(
    subject: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None, days: float, ca: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def scenarios(workdir: Path) -> tuple[Path, dict[str, ssl.SSLContext]]:
    """The root CA file and one server context per scenario."""
    root, root_key = _cert("Bench Root", None, 3650, ca=True)
    inter, inter_key = _cert("Bench Intermediate", (root.subject, root_key), 40, ca=True)
    ca_file = workdir / "root.pem"
    ca_file.write_bytes(_pem(root))
    plans = {
        "valid 90 d": ([_cert(HOST, (root.subject, root_key), 90, ca=False)], []),
        "expires in 3 d": ([_cert(HOST, (root.subject, root_key), 3.5, ca=False)], []),
        "intermediate expires first": ([_cert(HOST, (inter.subject, inter_key), 200, ca=False)], [inter]),
    }
    contexts: dict[str, ssl.SSLContext] = {}
    for index, (label, (leaves, extra)) in enumerate(plans.items()):
        (leaf, key) = leaves[0]
        chain, key_file = workdir / f"chain{index}.pem", workdir / f"key{index}.pem"
        chain.write_bytes(_pem(leaf, *extra))
        fmt = serialization.PrivateFormat.PKCS8
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key_file)
        contexts[label] = context
    return ca_file, contexts


def ensure_exporter() -> str:
    """Path of the exporter binary, installing the Debian package when missing."""
    found = shutil.which(EXPORTER)
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "-q", EXPORTER], check=True)
        found = shutil.which(EXPORTER)
    if found is None:
        sys.exit(f"{EXPORTER} is not installed and could not be installed")
    return found


def free_port() -> int:
    """An ephemeral loopback port for the exporter."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def blackbox(http: aiohttp.ClientSession, base: str, port: int) -> dict[str, float]:
    """The exporter's expiry samples for one target."""
    url = yarl.URL(f"{base}/probe").with_query(module="tls", target=f"127.0.0.1:{port}")
    async with http.get(url) as resp:
        text = await resp.text()
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in (*METRICS, "probe_success", "probe_duration_seconds"):
            values[name] = float(value)
    return values


async def sitewatch(port: int, ca_file: Path) -> tuple[dict[str, float], float]:
    """The tls check's expiry samples for one target, and its run time."""
    resolver = ProbeResolver(static={HOST: ["127.0.0.1"]}, fallback=None)
    session = make_session(resolver, user_agent="sitewatch-bench")
    site = SiteInfo("bench", yarl.URL(f"https://{HOST}:{port}/"))
    check = TlsCheck(TlsConfig(ca_file=str(ca_file)), site)
    ctx = Context(session, site, "tls", 5.0, SystemClock(), resolver, logging.getLogger("bench"))
    try:
        started = time.perf_counter()
        result = await check.run(ctx)
        elapsed = time.perf_counter() - started
    finally:
        await session.close()
    return {s.name: s.value for s in result.samples if s.name in METRICS}, elapsed


async def main() -> int:
    """Start targets and the exporter, probe with both, print the table."""
    binary = ensure_exporter()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ca_file, contexts = scenarios(workdir)
        (workdir / "blackbox.yml").write_text(
            "modules:\n  tls:\n    prober: tcp\n    timeout: 5s\n    tcp:\n      tls: true\n"
            f"      tls_config:\n        ca_file: {ca_file}\n        server_name: {HOST}\n"
        )
        listen = f"127.0.0.1:{free_port()}"
        exporter = subprocess.Popen(  # noqa: ASYNC220 - started once, before any probing
            [binary, f"--config.file={workdir / 'blackbox.yml'}", f"--web.listen-address={listen}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        servers = [await asyncio.start_server(_hold, "127.0.0.1", 0, ssl=c) for c in contexts.values()]
        try:
            return await _compare(f"http://{listen}", list(contexts), servers, ca_file)
        finally:
            for server in servers:
                server.close()
            exporter.terminate()
            exporter.wait(timeout=5)


async def _compare(base: str, labels: list[str], servers: list[asyncio.Server], ca_file: Path) -> int:
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + 10
        while True:  # wait until the exporter answers (no fixed sleep)
            try:
                async with http.get(f"{base}/-/healthy") as resp:
                    if resp.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("blackbox_exporter did not start")
            await asyncio.sleep(0.05)
        rows, agree = [], True
        for label, server in zip(labels, servers, strict=True):
            port = server.sockets[0].getsockname()[1]
            theirs = await blackbox(http, base, port)
            ours, elapsed = await sitewatch(port, ca_file)
            for metric in METRICS:
                a, b = ours.get(metric), theirs.get(metric)
                ok = a is not None and b is not None and abs(a - b) <= 1.0
                agree &= ok
                rows.append((label, metric.removeprefix("probe_ssl_"), _fmt(a), _fmt(b), "yes" if ok else "NO"))
            rows.append((label, "probe duration (s)", f"{elapsed:.4f}", f"{theirs['probe_duration_seconds']:.4f}", ""))
    header = ("scenario", "metric", "sitewatch", "blackbox", "agree ≤1s")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)))
    return 0 if agree else 1


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} ({dt.datetime.fromtimestamp(value, dt.UTC):%Y-%m-%d %H:%M:%S})"


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):
        await reader.read()
    writer.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
