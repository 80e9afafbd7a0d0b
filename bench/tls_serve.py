"""``cartcom-sandbox serve`` over HTTPS, for a peer that only speaks https:// (benchmarks only).

Airbyte's source-cart builds its URL as ``https://{store_name}/api/v1/`` and has no setting for
the scheme. Rather than change its code or put a proxy in the path (a hop that would be
measured), the sandbox itself answers TLS: the same CLI, the same app and latency, only the
listening socket wrapped with a local certificate the peer is told to trust
(``REQUESTS_CA_BUNDLE``). A real store answers TLS too.

Run: ``python bench/tls_serve.py CERT KEY serve --db ... [the serve options]``.
"""

from __future__ import annotations

import sys
from typing import Any

import cartcom_sandbox.server as sandbox_server
from cartcom_sandbox.cli import main
from werkzeug.serving import make_server


def _serve_tls(cert: str, key: str, argv: list[str]) -> int:
    def make_tls_server(*args: Any, **kwargs: Any) -> Any:
        return make_server(*args, ssl_context=(cert, key), **kwargs)

    sandbox_server.make_server = make_tls_server  # type: ignore[assignment]
    return main(argv)


if __name__ == "__main__":
    raise SystemExit(_serve_tls(sys.argv[1], sys.argv[2], sys.argv[3:]))
