"""The API's error envelope ``{"status_code", "message", "details"}`` as an exception."""

from __future__ import annotations

from typing import Any

MESSAGES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def envelope(status: int, details: str = "") -> dict[str, Any]:
    """The error body Cart.com sends with ``status``."""
    return {"status_code": status, "message": MESSAGES.get(status, "Error"), "details": details}


class ApiError(Exception):
    """An API failure that becomes an error envelope response."""

    def __init__(self, status: int, details: str = "") -> None:
        """Fail with HTTP ``status`` and human ``details``."""
        super().__init__(f"{status}: {details}")
        self.status = status
        self.details = details

    def body(self) -> dict[str, Any]:
        """The envelope."""
        return envelope(self.status, self.details)
