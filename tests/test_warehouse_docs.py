"""The README's warehouse loader definitions are meltano.yml's, pins included."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _readme_loaders() -> dict[str, dict]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- warehouse-loaders -->\s*```yaml\n(.*?)```", text, re.S)
    assert block, "README.md lost its <!-- warehouse-loaders --> block"
    return {p["name"]: p for p in yaml.safe_load(block.group(1))["plugins"]["loaders"]}


def test_readme_loader_definitions_are_meltano_yml_s() -> None:
    """What a merchant copies from the README is what `make test` runs (duckdb pin included)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    defined = {p["name"]: p for p in project["plugins"]["loaders"]}
    readme = _readme_loaders()
    assert set(readme) == {"target-postgres", "target-duckdb"}
    assert readme == {name: defined[name] for name in readme}
    assert readme["target-duckdb"]["pip_url"].split() == ["target-duckdb==0.8.0", "duckdb==1.1.3"]
    assert readme["target-postgres"]["pip_url"] == "meltanolabs-target-postgres==0.8.1"
