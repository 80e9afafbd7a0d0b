"""README.md's settings tables and meltano.yml's `settings:` stay in step with the plugins.

Both are generated from `<plugin> --about` by demo/plugin_docs.py; when a plugin gains, loses or
rewords a setting, these tests fail until `.venv/bin/python demo/plugin_docs.py` is run.
"""

from __future__ import annotations

import json
from pathlib import Path

import plugin_docs as docs  # demo/ is on the pytest path (root pyproject)
import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ("tap-cartcom", "target-cartcom")


@pytest.fixture(scope="module")
def about() -> dict[str, dict[str, str]]:
    """`--about` of both plugins, as markdown and as JSON."""
    return {
        p: {"markdown": docs.about(p, "markdown"), "json": docs.about(p, "json")} for p in PLUGINS
    }


@pytest.mark.parametrize("plugin", PLUGINS)
def test_readme_settings_table_matches_about(plugin: str, about: dict) -> None:
    """README.md shows exactly the settings table of `--about --format=markdown`."""
    readme = (ROOT / "README.md").read_text()
    shown = docs.readme_tables_in(readme, plugin)
    assert shown is not None, f"README.md lacks the settings markers of {plugin}"
    assert shown == docs.readme_block(plugin, about[plugin]["markdown"]), (
        f"README.md's settings of {plugin} drifted from --about; "
        "run: .venv/bin/python demo/plugin_docs.py"
    )


@pytest.mark.parametrize("plugin", PLUGINS)
def test_readme_table_lists_every_setting(plugin: str, about: dict) -> None:
    """Every top-level setting of `--about --format=json` has a row in README.md."""
    readme = (ROOT / "README.md").read_text()
    block = docs.readme_tables_in(readme, plugin) or ""
    rows = {line.split("|")[1].strip() for line in block.splitlines() if line.startswith("| ")}
    names = set(json.loads(about[plugin]["json"])["settings"]["properties"])
    assert names <= rows


@pytest.mark.parametrize("plugin", PLUGINS)
def test_meltano_yml_declares_every_setting(plugin: str, about: dict) -> None:
    """meltano.yml declares every setting, secrets as sensitive."""
    declared = docs.declared_settings((ROOT / "meltano.yml").read_text(), plugin)
    wanted = docs.meltano_settings(json.loads(about[plugin]["json"]))
    assert declared == wanted, (
        f"meltano.yml's settings of {plugin} drifted from --about; "
        "run: .venv/bin/python demo/plugin_docs.py"
    )
    sensitive = {s["name"] for s in declared if s.get("sensitive")}
    assert "access_token" in sensitive


def test_drift_is_detected(about: dict) -> None:
    """A reworded description, or a new setting, no longer matches README.md."""
    readme = (ROOT / "README.md").read_text()
    markdown = about["target-cartcom"]["markdown"]
    reworded = markdown.replace("| dry_run | False | False | ", "| dry_run | False | False | X ")
    assert reworded != markdown
    assert docs.readme_tables_in(readme, "target-cartcom") != docs.readme_block(
        "target-cartcom", reworded
    )
    schema = json.loads(about["tap-cartcom"]["json"])
    schema["settings"]["properties"]["brand_new"] = {"type": ["string", "null"]}
    assert docs.meltano_settings(schema) != docs.declared_settings(
        (ROOT / "meltano.yml").read_text(), "tap-cartcom"
    )
