"""Local ports where a connection to the store fails the way a misconfigured address does.

``refused_port`` holds a bound TCP socket that never listens: every connection to it is refused,
and no other process can take the port while it is held. ``BadTLSPort`` listens and answers the
TLS handshake wrongly, counting the connections made to it (what the "store" saw):

- ``self-signed``: a certificate for 127.0.0.1 that no one trusts (made with the ``openssl``
  command, as ``cryptography`` is not installed here);
- ``plain-http``: a plain HTTP server, so https:// to it gets an HTTP answer to a ClientHello.

The count is read after the client gave up. A client learns of the failure only from what the
server sends after its ``accept``, and the count is taken before that, so it cannot race.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

Mode = Literal["self-signed", "plain-http"]


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses every connection while the context is open."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """``(certificate, key)`` for 127.0.0.1, signed by itself; needs the ``openssl`` command."""
    if shutil.which("openssl") is None:
        msg = "the openssl command is needed to make a self-signed certificate"
        raise RuntimeError(msg)
    cert, key = folder / "self-signed.pem", folder / "self-signed.key"
    args = "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1"
    args += " -addext subjectAltName=IP:127.0.0.1"
    subprocess.run(
        ["openssl", *args.split(), "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


class BadTLSPort:
    """A loopback port whose TLS handshake fails (see the module docstring for the modes)."""

    def __init__(self, mode: Mode, folder: Path) -> None:
        """Prepare the answer; ``start`` opens the port."""
        self.mode = mode
        self.context: ssl.SSLContext | None = None
        if mode == "self-signed":
            cert, key = self_signed_certificate(folder)
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(cert, key)
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._thread = threading.Thread(target=self._serve, name="bad-tls-port", daemon=True)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self._sock.getsockname()[1]

    def start(self) -> BadTLSPort:
        """Listen on a free loopback port."""
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._sock.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed by ``stop``
            self.connections += 1
            with conn:
                conn.settimeout(10)
                try:
                    if self.context is not None:
                        self.context.wrap_socket(conn, server_side=True).close()
                    else:
                        conn.recv(4096)
                        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass  # the client refused the certificate, or hung up: that is the point
