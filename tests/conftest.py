"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import ssl

import pytest
import trustme
from hypothesis import settings

# CI replays the same examples every run (a landing must not depend on luck); a developer's
# plain `pytest` explores new ones, which is how the fuzz tests find bugs.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("SITEWATCH_HYPOTHESIS_PROFILE", "default"))


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
