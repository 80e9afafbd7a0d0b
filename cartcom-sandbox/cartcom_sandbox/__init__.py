"""cartcom-sandbox: a faithful, stateful local emulator of the Cart.com Online Store API v1."""

from __future__ import annotations

__all__ = ["RouterServer", "SandboxConfig", "SandboxServer", "Store"]
__version__ = "0.1.0"


def __getattr__(name: str):  # lazy: importing the package stays cheap
    if name == "Store":
        from cartcom_sandbox.store import Store  # noqa: PLC0415

        return Store
    if name == "SandboxServer":
        from cartcom_sandbox.server import SandboxServer  # noqa: PLC0415

        return SandboxServer
    if name == "RouterServer":
        from cartcom_sandbox.server import RouterServer  # noqa: PLC0415

        return RouterServer
    if name == "SandboxConfig":
        from cartcom_sandbox.config import SandboxConfig  # noqa: PLC0415

        return SandboxConfig
    raise AttributeError(name)
