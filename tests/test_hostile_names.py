"""Site-controlled text reaches summaries, labels and /metrics only as printable text."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import generate_latest

from sitewatch.config.registry import load_checks
from sitewatch.engine.results import ResultBook
from sitewatch.probe import Result, Sample, Status, printable
from sitewatch.web.metrics import SitewatchCollector
from sitewatch.web.registry import build_registry
from tests.helpers import run_check
from tests.test_tls_check import DAY, NOW, _builder, server_context, tcp_server

#: Clear the screen, home the cursor, forge a line, ring the bell.
HOSTILE = "\x1b[2J\x1b[Hpwned\r\nX-Forged: 1\x07"
CONTROLS = ("\x1b", "\r", "\n", "\x07")


def hostile_chain() -> tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey]:
    """A root and a leaf whose CN and SAN carry terminal escapes, CR/LF and BEL."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Root " + HOSTILE)])
    root = (
        _builder(root_name, root_name, root_key, NOW - 30 * DAY, NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTILE + ".test")])
    leaf = (
        _builder(leaf_name, root_name, key, NOW - DAY, NOW + 90 * DAY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOSTILE + ".evil.test")]), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return [leaf, root], key


async def test_hostile_certificate_names_are_printable_in_summary_labels_and_metrics(tmp_path: Path) -> None:
    """CN/SAN with ESC[2J, CR/LF and BEL, over a real handshake: summary, labels and /metrics carry none of them."""
    chain, key = hostile_chain()
    ca_file = tmp_path / "root.pem"
    ca_file.write_bytes(chain[1].public_bytes(serialization.Encoding.PEM))
    async with tcp_server(context=server_context(tmp_path, chain, key)) as port:
        record = await run_check(
            "tls", {"ca_file": str(ca_file)}, url=f"https://shop.test:{port}/", hosts={"shop.test": ["127.0.0.1"]}
        )
    result = record.result
    assert result.status is Status.CRITICAL
    assert "certificate does not match shop.test (it is for [2J [Hpwned X-Forged: 1 .evil.test)" in result.summary
    assert not any(c in result.summary for c in CONTROLS)
    info = next(s for s in result.samples if s.name == "sitewatch_tls_cert_info")
    labels = dict(info.labels)
    assert labels["subject"] == "[2J [Hpwned X-Forged: 1 .test"
    assert labels["issuer"].startswith("Root [2J [Hpwned")
    book = ResultBook()
    book.configure([(record.key, "tls")])
    book.record(record)
    text = generate_latest(build_registry(SitewatchCollector(book, load_checks(), logging.getLogger("test"))))
    assert b"pwned" in text
    assert not any(c.encode() in text for c in ("\x1b", "\r", "\x07"))
    assert b"X-Forged: 1 .test" in text  # on its own label, not on a forged line


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("plain text", None, "plain text"),
        ("a\x1b[2Jb\r\nc\x07d", None, "a [2Jb c d"),
        ("  lots \t of\n\n space  ", None, "lots of space"),
        ("right\u202eleft", None, "right left"),  # a bidi override cannot reverse what follows
        ("x" * 500, 160, "x" * 160),
    ],
)
def test_printable_makes_one_bounded_line(text: str, limit: int | None, expected: str) -> None:
    """Control, format and separator characters become single spaces; ``limit`` cuts the line."""
    assert printable(text, limit) == expected


def test_results_and_samples_are_printable_whatever_the_check_forgot() -> None:
    """A third-party check that puts raw site text in a summary or a label still exports printable text."""
    result = Result(Status.WARNING, "title is \x1b]0;owned\x07\r\nnext")
    sample = Sample("x", 1, (("name", "a\nb\x1b"),))
    assert result.summary == "title is ]0;owned next"
    assert sample.labels == (("name", "a b"),)
