"""Certificate facts the ``tls`` check judges: names, dates, key, signature, hostname match."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import NameOID

__all__ = ["CertFacts", "facts", "hostname_matches", "names"]

#: Label values (issuer, subject, serial) are cut to this length.
_LABEL = 64
#: RSA/DSA keys below this are weak (CA/Browser Forum baseline).
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
    key = cert.public_key()
    weak = False
    if isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey):
        kind = "RSA" if isinstance(key, rsa.RSAPublicKey) else "DSA"
        key_text, weak = f"{kind}-{key.key_size}", key.key_size < _MIN_BITS
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_text = f"EC-{key.curve.name}"
    else:
        key_text = type(key).__name__.lstrip("_").removesuffix("PublicKey")
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


def _cn(name: x509.Name, cert: x509.Certificate | None = None) -> str:
    """The common name, else the first DNS name, else the whole name; bounded for labels."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if values:
        return str(values[0].value)[:_LABEL] or "-"
    names = _dns_names(cert) if cert is not None else []
    return (names[0] if names else name.rfc4514_string())[:_LABEL] or "-"


def _dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*san.get_values_for_type(x509.DNSName), *map(str, san.get_values_for_type(x509.IPAddress))]


def names(cert: x509.Certificate) -> list[str]:
    """The DNS names and IP addresses a certificate is valid for."""
    return _dns_names(cert)


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
