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
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import ssl
import sys
from typing import Any

__all__ = ["offer"]

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


def offer(sslobj: ssl.SSLObject, session: ssl.SSLSession) -> bool:
    """Hand ``session`` to ``sslobj`` (before its handshake) without a copy; False: use ``wrap_bio(session=)``."""
    lib = _libssl()
    if lib is None:
        return False
    pointer = _session_pointer(lib, session)
    if pointer is None:
        return False
    return bool(lib.SSL_set_session(_ssl_pointer(sslobj), pointer))
