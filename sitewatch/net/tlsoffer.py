"""Offer a TLS session to a new connection without ``ssl``'s copy of it.

``SSLContext.wrap_bio(session=...)`` does not hand the session to OpenSSL as it is: CPython
writes it out as DER and parses it back (a workaround for OpenSSL 1.1.0, whose TLS 1.3
sessions could not be shared), and parsing means decoding the server's certificate again:
~0.1 ms of CPU on OpenSSL 3.0, a third of what resuming the session saves. OpenSSL 1.1.1
and later share sessions between connections (clients such as curl and nginx's proxy module
call ``SSL_set_session`` directly), so this module does that through :mod:`ctypes`.

It reaches into CPython's ``_ssl`` objects (the ``SSL *`` of an SSLObject, the
``SSL_SESSION *`` of an SSLSession), so it is used only where that layout is known (CPython
3.11 to 3.13, a release build) and only after a self-check has read back, through those
pointers, what ``ssl`` itself reports (the server name of a probe object; each session's
id, time and timeout). Anywhere else, or if a check fails, :func:`offer` says so and the
caller passes the session to ``wrap_bio`` as usual.

:func:`compact` keeps a session without the server's certificate, which a client never
needs again to resume it (the server does not send it, and what it proved is recorded by
:mod:`sitewatch.net.tlssessions`): OpenSSL's session is written out, its ``peer`` field
dropped and read back, ~1.4 KB held per site instead of 7-13 KB with the decoded
certificate (10 µs, once per full handshake).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import ssl
import sys
from typing import Any

__all__ = ["CompactSession", "compact", "offer"]

_P = ctypes.c_void_p
#: Offsets in CPython's _ssl.c: PyObject_HEAD (16 bytes), then PySSLSocket's ``Socket``
#: weakref and its ``SSL *ssl``; PySSLSession's ``SSL_SESSION *session``.
_SSL_AT = 24
_SESSION_AT = 16
_SENTINEL = "sitewatch-layout-check.invalid"


@functools.cache
def _libssl() -> Any:
    """libssl with the few functions used here, or None where the layout is not known."""
    if sys.implementation.name != "cpython" or not (3, 11) <= sys.version_info[:2] <= (3, 13):
        return None
    if hasattr(sys, "gettotalrefcount") or hasattr(sys, "getobjects"):  # a debug build: a larger PyObject_HEAD
        return None
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("ssl") or "libssl.so.3")
        lib.OpenSSL_version_num.restype = ctypes.c_ulong
        if lib.OpenSSL_version_num() != ssl.OPENSSL_VERSION_NUMBER:  # not the libssl _ssl is linked with
            return None
        lib.SSL_get_servername.argtypes, lib.SSL_get_servername.restype = [_P, ctypes.c_int], ctypes.c_char_p
        lib.SSL_set_session.argtypes, lib.SSL_set_session.restype = [_P, _P], ctypes.c_int
        lib.SSL_SESSION_get_id.argtypes = [_P, ctypes.POINTER(ctypes.c_uint)]
        lib.SSL_SESSION_get_id.restype = ctypes.POINTER(ctypes.c_ubyte)
        lib.SSL_SESSION_get_time.argtypes, lib.SSL_SESSION_get_time.restype = [_P], ctypes.c_long
        lib.SSL_SESSION_get_timeout.argtypes, lib.SSL_SESSION_get_timeout.restype = [_P], ctypes.c_long
        lib.SSL_get_session.argtypes, lib.SSL_get_session.restype = [_P], _P
        lib.i2d_SSL_SESSION.argtypes = [_P, ctypes.POINTER(ctypes.c_char_p)]
        lib.i2d_SSL_SESSION.restype = ctypes.c_int
        lib.d2i_SSL_SESSION.argtypes = [_P, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]
        lib.d2i_SSL_SESSION.restype = _P
        lib.SSL_SESSION_free.argtypes, lib.SSL_SESSION_free.restype = [_P], None
    except (OSError, AttributeError):
        return None
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).wrap_bio(
        ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname=_SENTINEL
    )
    if lib.SSL_get_servername(_ssl_pointer(probe), 0) != _SENTINEL.encode():
        return None
    return lib


def _ssl_pointer(sslobj: ssl.SSLObject) -> int | None:
    inner = sslobj._sslobj  # type: ignore[attr-defined]  # the _ssl._SSLSocket under the Python object
    return _P.from_address(id(inner) + _SSL_AT).value


def _session_pointer(lib: Any, session: ssl.SSLSession) -> int | None:
    """The SSL_SESSION of ``session``, once its id, time and timeout read back as ``ssl`` reports them."""
    pointer = _P.from_address(id(session) + _SESSION_AT).value
    if not pointer:
        return None
    size = ctypes.c_uint()
    raw = lib.SSL_SESSION_get_id(pointer, ctypes.byref(size))
    same = (
        bytes(raw[: size.value]) == session.id
        and lib.SSL_SESSION_get_time(pointer) == session.time
        and lib.SSL_SESSION_get_timeout(pointer) == session.timeout
    )
    return pointer if same else None


class CompactSession:
    """An OpenSSL session of our own, without the peer's certificate; freed with this object."""

    __slots__ = ("_lib", "pointer")

    def __init__(self, lib: Any, pointer: int) -> None:
        self._lib = lib
        self.pointer = pointer

    def __del__(self) -> None:
        self._lib.SSL_SESSION_free(self.pointer)


def _tlv_end(der: bytes, at: int) -> tuple[int, int]:
    """(start of the value, end of the element) of the DER element at ``at``."""
    first = der[at + 1]
    if first < 0x80:
        return at + 2, at + 2 + first
    size = first & 0x7F
    start = at + 2 + size
    return start, start + int.from_bytes(der[at + 2 : start], "big")


def _without_peer(der: bytes) -> bytes | None:
    """The SSL_SESSION DER without its ``peer [3]`` certificate (None if it is not a SEQUENCE)."""
    if not der or der[0] != 0x30:
        return None
    start, end = _tlv_end(der, 0)
    if end != len(der):
        return None
    kept, at = bytearray(), start
    while at < end:
        _, stop = _tlv_end(der, at)
        if der[at] != 0xA3:  # [3] EXPLICIT: the peer certificate
            kept += der[at:stop]
        at = stop
    size = len(kept)
    if size < 0x80:
        length = bytes([size])
    else:  # the shortest long form, as DER wants
        digits = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(digits)]) + digits
    return b"\x30" + length + bytes(kept)


def compact(sslobj: ssl.SSLObject) -> CompactSession | None:
    """This connection's session without the certificate, or None (then keep ``sslobj.session``)."""
    lib = _libssl()
    if lib is None:
        return None
    current = lib.SSL_get_session(_ssl_pointer(sslobj))
    size = lib.i2d_SSL_SESSION(current, None) if current else 0
    if not 0 < size < 65536:
        return None
    buffer = ctypes.create_string_buffer(size)
    cursor = ctypes.c_char_p(ctypes.addressof(buffer))
    if lib.i2d_SSL_SESSION(current, ctypes.byref(cursor)) != size:
        return None
    der = _without_peer(buffer.raw[:size])
    if der is None:
        return None
    source = ctypes.create_string_buffer(der, len(der))
    cursor = ctypes.c_char_p(ctypes.addressof(source))
    pointer = lib.d2i_SSL_SESSION(None, ctypes.byref(cursor), len(der))
    return CompactSession(lib, pointer) if pointer else None


def offer(sslobj: ssl.SSLObject, session: ssl.SSLSession | CompactSession) -> bool:
    """Hand ``session`` to ``sslobj`` (before its handshake) without a copy; False: use ``wrap_bio(session=)``."""
    lib = _libssl()
    if lib is None:
        return False
    if isinstance(session, CompactSession):
        pointer: int | None = session.pointer
    else:
        pointer = _session_pointer(lib, session)
    if pointer is None:
        return False
    return bool(lib.SSL_set_session(_ssl_pointer(sslobj), pointer))
