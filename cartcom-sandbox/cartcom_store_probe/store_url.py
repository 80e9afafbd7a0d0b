"""The store's API base URL from ``--domain`` or ``--api-url``, under the client's URL rules.

Where a token may be sent is decided in one place, ``_client/urls.py`` (https, or plain http
to ``localhost`` or a loopback IP only; no user info, query, fragment or odd port). The probe
adds one rule of its own: ``--domain`` is a bare host name, optionally with ``:port``.
"""

from __future__ import annotations

from cartcom_store_probe._client.errors import ConfigurationError
from cartcom_store_probe._client.urls import API_PATH, parse_url, url_base


def api_url_from(domain: str | None, api_url: str | None) -> str:
    """The API base URL, checked strictly; ``ValueError`` names the option and the rule."""
    if bool(domain) == bool(api_url):
        raise ValueError("give exactly one of --domain or --api-url")
    try:
        if domain:
            if any(mark in domain for mark in "/?#@"):  # a URL, a path or user info
                raise ValueError("--domain must be a bare host name such as shop.example.com")
            return parse_url(f"https://{domain}", "--domain").origin + API_PATH
        return url_base(api_url, "--api-url")
    except ConfigurationError as err:
        raise ValueError(str(err)) from None
