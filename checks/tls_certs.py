"""Certificate facts the ``tls`` check judges: names, dates, key, signature, hostname match."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID, PublicKeyAlgorithmOID

from sitewatch.probe import printable

__all__ = ["CertFacts", "facts", "hostname_matches", "names"]

#: Label values (issuer, subject, serial) are cut to this length.
_LABEL = 64
#: RSA keys below this are weak (CA/Browser Forum baseline). DSA keys are weak at any size:
#: no browser or public CA accepts them any more.
_MIN_BITS = 2048


@dataclass(frozen=True)
class CertFacts:
    """The facts of one certificate the check judges and reports."""

    subject: str
    issuer: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    key: str
    weak_key: bool
    signature: str
    self_signed: bool

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for the result details."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "key": self.key,
            "signature": self.signature,
        }


def facts(cert: x509.Certificate) -> CertFacts:
    """Extract what the check needs from ``cert``."""
    key_text, weak = _key(cert)
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:  # an exotic signature: not SHA-1/MD5, which is all we judge
        algorithm = None
    return CertFacts(
        subject=_cn(cert.subject, cert),
        issuer=_cn(cert.issuer),
        serial=format(cert.serial_number, "x")[:_LABEL],
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key=key_text,
        weak_key=weak,
        signature=algorithm.name if algorithm is not None else "other",
        self_signed=cert.issuer == cert.subject,
    )


def _key(cert: x509.Certificate) -> tuple[str, bool]:
    """The key as ``RSA-2048`` / ``EC-secp256r1`` / ``DSA-1024``, and whether it is weak.

    A DSA key is told by its algorithm OID and measured from the certificate's own bytes:
    building a DSA key object is deprecated in cryptography and warns on every run.
    """
    if cert.public_key_algorithm_oid == PublicKeyAlgorithmOID.DSA:
        bits = _dsa_bits(cert.tbs_certificate_bytes)
        return (f"DSA-{bits}" if bits else "DSA"), True
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}", key.key_size < _MIN_BITS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC-{key.curve.name}", False
    return type(key).__name__.lstrip("_").removesuffix("PublicKey"), False


def _der(data: bytes, at: int) -> tuple[int, int, int]:
    """One DER element at ``at``: (tag, start of its content, end of its content)."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:  # long form: the next (length & 0x7F) bytes hold the length
        count = length & 0x7F
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    return tag, at, at + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        element = _der(data, start)
        out.append(element)
        start = element[2]
    return out


def _dsa_bits(tbs: bytes) -> int:
    """The bit length of p in the Dss-Parms of a TBSCertificate's key (RFC 3279 2.3.2); 0 if absent."""
    try:
        _, start, end = _der(tbs, 0)
        fields = _children(tbs, start, end)
        if fields and fields[0][0] == 0xA0:  # [0] version, present from v2 on
            fields = fields[1:]
        _, spki_start, spki_end = fields[5]  # serial, signature, issuer, validity, subject, SPKI
        _, alg_start, alg_end = _children(tbs, spki_start, spki_end)[0]
        params = _children(tbs, alg_start, alg_end)[1:]
        if not params or params[0][0] != 0x30:  # parameters may be inherited from the issuer
            return 0
        _, p_start, p_end = _children(tbs, params[0][1], params[0][2])[0]
        return int.from_bytes(tbs[p_start:p_end], "big").bit_length()
    except (IndexError, ValueError):
        return 0


def _cn(name: x509.Name, cert: x509.Certificate | None = None) -> str:
    """The common name, else the first DNS name, else the whole name; bounded for labels."""
    # The certificate is the site's: its names go into summaries and labels only as printable text.
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if values:
        return printable(str(values[0].value), _LABEL) or "-"
    names = _dns_names(cert) if cert is not None else []
    return printable(names[0] if names else name.rfc4514_string(), _LABEL) or "-"


def _dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*san.get_values_for_type(x509.DNSName), *map(str, san.get_values_for_type(x509.IPAddress))]


def names(cert: x509.Certificate) -> list[str]:
    """The DNS names and IP addresses a certificate is valid for, printable (for summaries)."""
    return [printable(n, _LABEL) for n in _dns_names(cert)]


def hostname_matches(cert: x509.Certificate, host: str) -> bool:
    """RFC 6125 matching against subjectAltName: a ``*`` only as the whole leftmost label."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False  # browsers ignore the CN; so do we
    host = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return address in san.get_values_for_type(x509.IPAddress)
    for raw in san.get_values_for_type(x509.DNSName):
        pattern = raw.lower().rstrip(".")
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == pattern[2:] and "." in rest:
                return True
    return False
