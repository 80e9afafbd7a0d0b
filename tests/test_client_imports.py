"""The shared client works under any package name, and each plugin uses only its own copy.

The client's one source, cartcom-client/cartcom_client, ships inside each plugin as
`tap_cartcom._client` / `target_cartcom._client`, and inside the sandbox's store probe as
`cartcom_store_probe._client` (docs/architecture.md). A plugin installed on its own has no
top-level `cartcom_client`, so an absolute self-import inside the client, or a plugin module
importing `cartcom_client`, works in this repo's venv and fails everywhere else. Plugin tests
must use the plugin's copy too: its exception classes are not `cartcom_client`'s. The emulator
itself never loads the client: it must not share code with what it tests.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "cartcom-client" / "cartcom_client"
PLUGINS = {"tap-cartcom": "tap_cartcom", "target-cartcom": "target_cartcom"}
#: Every package that ships the client as its `_client`: the plugins, and the store probe (a
#: client of a real store) in the cartcom-sandbox distribution.
CLIENT_HOLDERS = {**PLUGINS, "cartcom-sandbox": "cartcom_store_probe"}


def absolute_imports_of(module: str, files: list[Path]) -> list[str]:
    """``file:line`` of every absolute import of ``module`` in ``files``.

    Strings naming one of its attributes (monkeypatch or mock.patch targets) count too.
    """
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                # monkeypatch.setattr("cartcom_client.session.x", ...) patches another copy
                names = [node.value] if node.value.startswith(module + ".") else []
            if any(n == module or n.startswith(module + ".") for n in names):
                found.append(f"{path}:{node.lineno}")
    return found


def _py(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "_client" not in p.relative_to(ROOT).parts)


def test_the_check_finds_absolute_imports(tmp_path: Path) -> None:
    """The check itself: both import forms are caught, relative and look-alike ones are not."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from cartcom_client.session import X\nimport cartcom_client\n"
        "from .session import Y\nimport cartcom_clients\nfrom tap_cartcom._client import Z\n"
        'patch("cartcom_client.session.sleep")\nlog("cartcom_client is the logger")\n'
    )
    found = absolute_imports_of("cartcom_client", [sample])
    assert [f.rsplit(":", 1)[1] for f in found] == ["1", "2", "6"]


def test_client_imports_itself_only_relatively() -> None:
    """Inside the client: `from .errors import ...`, never `from cartcom_client...`."""
    files = sorted(CLIENT.rglob("*.py"))
    assert files
    assert absolute_imports_of("cartcom_client", files) == []


@pytest.mark.parametrize("folder", list(CLIENT_HOLDERS))
def test_plugin_uses_its_private_client(folder: str) -> None:
    """Plugin code and its tests import (and patch) `<package>._client`, never `cartcom_client`."""
    files = _py(ROOT / folder)
    assert any(CLIENT_HOLDERS[folder] in p.parts for p in files)
    assert absolute_imports_of("cartcom_client", files) == []
    for other in (pkg for f, pkg in PLUGINS.items() if f != folder):
        assert absolute_imports_of(other, files) == [], "a plugin never imports the other one"


@pytest.mark.parametrize("folder", list(CLIENT_HOLDERS))
def test_private_client_is_the_one_source(folder: str) -> None:
    """`<package>/_client` is the committed symlink to cartcom-client/cartcom_client."""
    link = ROOT / folder / CLIENT_HOLDERS[folder] / "_client"
    assert link.is_symlink()
    assert link.readlink() == Path("../../cartcom-client/cartcom_client")
    assert link.resolve() == CLIENT.resolve()


def test_every_client_holder_has_the_same_build_hook() -> None:
    """`hatch_build.py` (refuses a wheel without the client) is one file in three places."""
    tap, *others = (ROOT / folder / "hatch_build.py" for folder in CLIENT_HOLDERS)
    assert len(others) == 2
    assert all(other.read_text() == tap.read_text() for other in others)


#: Imports what ``cartcom-sandbox serve`` and the pytest fixtures load, builds the CLI's parser
#: (which offers ``probe``), and prints every loaded module that is a copy of the client.
_EMULATOR_LOADS = """
import sys
import cartcom_sandbox.cli, cartcom_sandbox.server, cartcom_sandbox.profile
import cartcom_sandbox.pytest_plugin, cartcom_sandbox.seed
cartcom_sandbox.cli.build_parser()
print([m for m in sys.modules if m.split(".")[0] == "cartcom_client" or "._client" in m])
"""


def test_the_emulator_never_loads_the_client() -> None:
    """Serving, seeding and the fixtures load no copy of the client; the probe alone does."""

    def loaded(code: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        )
        return proc.stdout.strip()

    assert loaded(_EMULATOR_LOADS) == "[]"
    probe = _EMULATOR_LOADS.replace("import sys", "import sys, cartcom_store_probe.cli")
    assert "cartcom_store_probe._client.session" in loaded(probe)  # the check sees a copy
