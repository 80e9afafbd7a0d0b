"""Name resolution for the peer benchmark: its router host answers on the local sandbox.

Airbyte's source-cart calls the Central API Router at a fixed ``https://public.americommerce.com``.
On ``PYTHONPATH`` of the peer's process only, this resolves that one host (any port) to
``127.0.0.1:$BENCH_PEER_PORT``, as an ``/etc/hosts`` line would for the name, without editing the
machine's files: the peer's code, its requests and their signatures are unchanged, and no proxy
sits in the path. Every other name resolves as usual.
"""

from __future__ import annotations

import os
import socket

_HOST = os.environ.get("BENCH_PEER_HOST", "public.americommerce.com")
_PORT = os.environ.get("BENCH_PEER_PORT")
_getaddrinfo = socket.getaddrinfo


def _local_getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list:
    if _PORT and host == _HOST:
        return _getaddrinfo("127.0.0.1", int(_PORT), *args, **kwargs)
    return _getaddrinfo(host, port, *args, **kwargs)


socket.getaddrinfo = _local_getaddrinfo
