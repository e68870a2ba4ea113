"""Fixtures shared by the whole suite."""

from __future__ import annotations

import ssl

import pytest
import trustme


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throwaway certificate authority for real TLS handshakes on loopback."""
    return trustme.CA()


@pytest.fixture
def server_ssl(ca: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for localhost/127.0.0.1 signed by ``ca`` (not trusted by the system)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1", "shop.test").configure_cert(ctx)
    return ctx
