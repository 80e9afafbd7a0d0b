"""Shared helpers of the conformance tests: a live seeded sandbox and a validating HTTP client.

Imported by path from the test modules (no package, no conftest):
``_load_helpers()`` in each module uses importlib on this file.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.store import Store
from cartcom_testing import conformance as C  # noqa: N812

TOKEN = "conformance-suite-token"  # a test-only token of the local sandbox
ERROR_STATUSES = {400, 401, 404, 409, 414, 429, 500}


@dataclass
class Checked:
    """What a validating call saw."""

    method: str
    url: str
    status: int
    template: str
    pointer: str | None
    body: Any
    errors: list[str]


@dataclass
class Live:
    """A running sandbox plus a client that validates every response it gets."""

    server: Any
    base_url: str
    session: requests.Session
    checked: list[Checked] = field(default_factory=list)

    @property
    def calls(self) -> Any:
        """The sandbox's call log."""
        return self.server.calls

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: Any = None,
        auth: bool = True,
        **kwargs: Any,
    ) -> Checked:
        """Send one request and validate the response against the corrected spec."""
        url = f"{self.base_url}{path}"
        headers = dict(kwargs.pop("headers", {}))
        if not auth:
            headers["X-AC-Auth-Token"] = ""
        resp = self.session.request(
            method, url, params=params, json=body, headers=headers, timeout=30, **kwargs
        )
        where = f"{method} {resp.request.path_url} -> {resp.status_code}"
        errors: list[str] = []
        template, pointer, parsed = "?", None, None
        try:
            op = C.match_operation(method, resp.request.path_url.split("?", 1)[0])
            template = op.template
            pointer = op.response_pointer(resp.status_code)
        except (LookupError, KeyError) as exc:
            errors.append(str(exc))
        if "X-AC-Call-Limit" not in resp.headers:
            errors.append("header X-AC-Call-Limit is missing (§1.9: on every response)")
        if resp.status_code == 429 and not resp.headers.get("Retry-After"):
            errors.append("a 429 without Retry-After (§1.9)")
        raw = resp.content
        if pointer is not None and not resp.headers.get("Content-Type", "").startswith(
            "application/json"
        ):
            errors.append(f"Content-Type {resp.headers.get('Content-Type')!r} is not JSON")
        if pointer is None:
            if raw.strip() and not errors:
                errors.append(f"expected no body, got {raw[:120]!r}")
        else:
            try:
                parsed = json.loads(raw)
            except ValueError:
                errors.append(f"body is not JSON: {raw[:120]!r}")
            else:
                errors += C.validation_errors(pointer, parsed)
                if (
                    resp.status_code in ERROR_STATUSES
                    and isinstance(parsed, dict)
                    and (parsed.get("status_code") != resp.status_code)
                ):
                    errors.append(
                        f"$.status_code: {parsed.get('status_code')!r} differs "
                        f"from the HTTP status {resp.status_code}"
                    )
        checked = Checked(
            method,
            where,
            resp.status_code,
            template,
            pointer,
            parsed,
            [f"{where} [{pointer}] {e}" for e in errors],
        )
        self.checked.append(checked)
        return checked

    def ok(
        self, method: str, path: str, status: int | tuple[int, ...] = (200, 201), **kw: Any
    ) -> Any:
        """Call, require the status, and return the parsed body (schema errors are collected)."""
        res = self.call(method, path, **kw)
        wanted = (status,) if isinstance(status, int) else status
        assert res.status in wanted, f"{res.url}: wanted {wanted}, body {res.body!r}"[:600]
        return res.body

    reported: int = 0

    def failures(self) -> list[str]:
        """Schema failures not reported yet by ``assert_clean``."""
        return [e for c in self.checked[self.reported :] for e in c.errors]

    def assert_clean(self) -> None:
        """Fail listing every new response that did not validate (path of the failing field)."""
        bad = self.failures()
        self.reported = len(self.checked)
        assert not bad, f"{len(bad)} response error(s):\n" + "\n".join(bad[:40])

    def covered(self) -> set[tuple[str, str, int]]:
        """(method, spec template, status) triples validated so far."""
        return {(c.method, c.template, c.status) for c in self.checked}


def request_body_failures(calls: Any) -> tuple[int, list[str]]:
    """Validate every accepted (status < 300) JSON request body of the call log."""
    checked, bad = 0, []
    for rec in calls:
        if rec.status >= 300 or rec.status == 0 or rec.request_json is None:
            continue
        if rec.method not in ("POST", "PUT"):
            continue
        try:
            op = C.match_operation(rec.method, rec.path)
        except LookupError as exc:
            bad.append(f"{rec.method} {rec.path}: {exc}")
            continue
        pointer = op.request_pointer()
        if pointer is None:
            bad.append(f"{rec.method} {rec.path}: the corrected spec has no JSON body schema")
            continue
        checked += 1
        bad += [
            f"{rec.method} {rec.path} [{pointer}] {e}"
            for e in C.validation_errors(pointer, rec.request_json)
        ]
    return checked, bad


def _server_class() -> Any:
    from cartcom_sandbox.server import SandboxServer

    return SandboxServer


@contextlib.contextmanager
def running_sandbox(
    products: int = 12, orders: int = 40, seed: int = 11, **server_kwargs: Any
) -> Iterator[Live]:
    """A seeded in-memory store behind a live HTTP sandbox on a free port."""
    store = Store(":memory:")
    seed_store(store, products=products, orders=orders, seed=seed)
    server = _server_class()(store, port=0, tokens=[TOKEN], **server_kwargs)
    server.start()
    session = requests.Session()
    session.headers.update({"X-AC-Auth-Token": TOKEN, "Cache-Control": "no-cache"})
    try:
        base = server.base_url.rstrip("/")
        if not base.endswith("/api/v1"):
            base += "/api/v1"
        yield Live(server=server, base_url=base, session=session)
    finally:
        session.close()
        server.stop()
