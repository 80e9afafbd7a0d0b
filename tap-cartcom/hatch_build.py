"""Build hook: refuse to build a wheel without the shared Cart.com client inside.

The client's one source is cartcom-client/cartcom_client; the package that uses it (the
plugin's, or the one named by the hook's ``client-package`` setting: the sandbox's probe)
reaches it through the committed symlink ``<package>/_client`` (hatchling follows it, and an
sdist holds real files). A checkout without symlinks (Git on Windows without
``core.symlinks``) would otherwise build a wheel that fails on its first import.
"""

from __future__ import annotations

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class SharedClientCheck(BuildHookInterface):
    """Check that ``<package>/_client`` is the client package before anything is built."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        """Fail the build with the fix when the client is missing."""
        package = self.config.get("client-package") or self.metadata.name.replace("-", "_")
        client = Path(self.root, package, "_client")
        if not (client / "__init__.py").is_file():
            msg = (
                f"{client} is not the shared Cart.com client. It must be the symlink "
                f"to ../../cartcom-client/cartcom_client committed in the repository: "
                "build from a full checkout of the repository, with symlinks enabled "
                "(git clone -c core.symlinks=true on Windows)."
            )
            raise RuntimeError(msg)
