"""``make mutate``'s config (bench/mutate/modules.toml) still names what the repository holds.

A module moved, a test file renamed, a function renamed or an equivalent mutant's line rewritten
would otherwise only show as a failed or silently shrunken mutation run, 30 minutes later.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "bench/mutate/modules.toml").read_text(encoding="utf-8"))


def definitions(path: Path) -> set[str]:
    """Names of the functions and classes defined anywhere in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name for node in ast.walk(tree) if isinstance(node, kinds)}


def test_every_module_its_tests_and_its_functions_exist():
    names = [module["name"] for module in CONFIG["module"]]
    assert len(names) == len(set(names))
    for module in CONFIG["module"]:
        path = ROOT / module["path"]
        assert path.is_file(), module["path"]
        assert module["tests"], module["name"]
        for test in module["tests"]:
            assert (ROOT / test).is_file(), test
        missing = set(module.get("functions", [])) - definitions(path)
        assert not missing, (module["name"], missing)
        # The fork server imports the sandbox once for every run: it must never be mutated.
        assert not module["path"].startswith("cartcom-sandbox/"), module["name"]


def test_every_equivalent_mutant_names_its_module_line_and_reason():
    modules = {module["name"]: module for module in CONFIG["module"]}
    for entry in CONFIG.get("equivalent", []):
        assert entry["module"] in modules, entry
        assert entry["reason"].strip(), entry
        assert entry["operator"].startswith(("core/", "cartcom/")), entry
        source = (ROOT / modules[entry["module"]]["path"]).read_text(encoding="utf-8")
        assert entry["line"].strip() in {line.strip() for line in source.splitlines()}, entry
