"""The shared client works under any package name, and each plugin uses only its own copy.

The client's one source, cartcom-client/cartcom_client, ships inside each plugin as
`tap_cartcom._client` / `target_cartcom._client` (docs/architecture.md). A plugin installed on
its own has no top-level `cartcom_client`, so an absolute self-import inside the client, or a
plugin module importing `cartcom_client`, works in this repo's venv and fails everywhere else.
Plugin tests must use the plugin's copy too: its exception classes are not `cartcom_client`'s.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "cartcom-client" / "cartcom_client"
PLUGINS = {"tap-cartcom": "tap_cartcom", "target-cartcom": "target_cartcom"}


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


@pytest.mark.parametrize("folder", list(PLUGINS))
def test_plugin_uses_its_private_client(folder: str) -> None:
    """Plugin code and its tests import (and patch) `<package>._client`, never `cartcom_client`."""
    files = _py(ROOT / folder)
    assert any(PLUGINS[folder] in p.parts for p in files)
    assert absolute_imports_of("cartcom_client", files) == []
    other = next(pkg for f, pkg in PLUGINS.items() if f != folder)
    assert absolute_imports_of(other, files) == [], "a plugin never imports the other one"


@pytest.mark.parametrize("folder", list(PLUGINS))
def test_private_client_is_the_one_source(folder: str) -> None:
    """`<package>/_client` is the committed symlink to cartcom-client/cartcom_client."""
    link = ROOT / folder / PLUGINS[folder] / "_client"
    assert link.is_symlink()
    assert link.readlink() == Path("../../cartcom-client/cartcom_client")
    assert link.resolve() == CLIENT.resolve()


def test_both_plugins_have_the_same_build_hook() -> None:
    """`hatch_build.py` (refuses a wheel without the client) is one file in two places."""
    tap, target = (ROOT / folder / "hatch_build.py" for folder in PLUGINS)
    assert tap.read_text() == target.read_text()
