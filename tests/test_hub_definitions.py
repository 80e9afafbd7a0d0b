"""The Hub-ready plugin definitions (`<plugin>/meltano-hub.yml`) stay in step with `--about`.

They are generated from `<plugin> --about --format=json` by demo/plugin_docs.py, like the README
settings tables; when a plugin gains, loses or rewords a setting or a capability, these tests
fail until `.venv/bin/python demo/plugin_docs.py` is run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import plugin_docs as docs  # demo/ is on the pytest path (root pyproject)
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ("tap-cartcom", "target-cartcom")


@pytest.fixture(scope="module")
def about() -> dict[str, dict[str, Any]]:
    """`--about --format=json` of both plugins."""
    return {p: json.loads(docs.about(p, "json")) for p in PLUGINS}


@pytest.mark.parametrize("plugin", PLUGINS)
def test_hub_definition_matches_about(plugin: str, about: dict) -> None:
    """The committed definition is exactly what the generator makes from --about."""
    committed = docs.hub_file(plugin)
    assert committed.exists(), f"{committed} is missing; run: .venv/bin/python demo/plugin_docs.py"
    assert committed.read_text() == docs.hub_text(about[plugin]), (
        f"{committed.relative_to(ROOT)} drifted from --about; "
        "run: .venv/bin/python demo/plugin_docs.py"
    )


@pytest.mark.parametrize("plugin", PLUGINS)
def test_hub_definition_is_what_meltano_needs(plugin: str, about: dict) -> None:
    """Name, namespace, executable, capabilities; every setting with kind, label, description."""
    definition = yaml.safe_load(docs.hub_file(plugin).read_text())
    assert definition["name"] == plugin
    assert definition["namespace"] == plugin.replace("-", "_")
    assert definition["executable"] == plugin
    assert definition["pip_url"]
    assert definition["label"]
    assert definition["description"] == about[plugin]["description"]
    assert definition["capabilities"] == about[plugin]["capabilities"]
    settings = {s["name"]: s for s in definition["settings"]}
    assert list(settings) == list(about[plugin]["settings"]["properties"])
    for name, prop in about[plugin]["settings"]["properties"].items():
        assert settings[name]["kind"]
        if prop.get("title"):
            assert settings[name]["label"] == prop["title"]
        if prop.get("description"):
            assert settings[name]["description"] == prop["description"]
        assert settings[name].get("sensitive", False) == bool(
            prop.get("secret") or prop.get("writeOnly")
        )
    assert settings["access_token"]["sensitive"] is True
    # Either auth mode satisfies Meltano Hub: a token, or the router's three settings.
    required = about[plugin]["settings"].get("required") or []
    assert definition["settings_group_validation"] == [
        [*required, "access_token"],
        [*required, "auth_type", "site_id", "user_name", "user_secret"],
    ]


def test_drift_is_detected(about: dict) -> None:
    """A new setting, a reworded one or a new capability no longer matches the committed file."""
    committed = docs.hub_file("tap-cartcom").read_text()
    changed = json.loads(json.dumps(about["tap-cartcom"]))
    changed["settings"]["properties"]["brand_new"] = {"type": ["string", "null"]}
    assert docs.hub_text(changed) != committed
    reworded = json.loads(json.dumps(about["tap-cartcom"]))
    reworded["settings"]["properties"]["access_token"]["description"] += " (reworded)"
    assert docs.hub_text(reworded) != committed
    more = json.loads(json.dumps(about["tap-cartcom"]))
    more["capabilities"].append("log-based")
    assert docs.hub_text(more) != committed


def test_readme_definitions_agree_with_the_hub_files() -> None:
    """README's paste-in YAML declares settings as the Hub files do (kind, secrets)."""
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- own-project-yaml -->", 1)[1].split("<!-- /own-project-yaml -->")[0]
    plugins = yaml.safe_load(block.split("```yaml", 1)[1].split("```", 1)[0])["plugins"]
    pasted = {p["name"]: p for p in plugins["extractors"] + plugins["loaders"]}
    assert set(PLUGINS) <= set(pasted)  # with the loaders and the feed they pair with
    for plugin in PLUGINS:
        hub = yaml.safe_load(docs.hub_file(plugin).read_text())
        mine = pasted[plugin]
        assert (mine["namespace"], mine["executable"]) == (hub["namespace"], hub["executable"])
        assert mine["pip_url"].endswith(f"#subdirectory={plugin}")
        assert set(mine["capabilities"]) <= set(hub["capabilities"])
        assert set(mine["config"]) <= {s["name"] for s in hub["settings"]}
        declared = {s["name"]: s for s in hub["settings"]}
        for setting in mine["settings"]:
            want = declared[setting["name"]]
            assert setting["kind"] == want["kind"], setting["name"]
            assert setting.get("sensitive", False) == want.get("sensitive", False)
            if "options" in setting:
                assert sorted(o["value"] for o in setting["options"]) == sorted(
                    o["value"] for o in want["options"]
                )
        assert any(s.get("sensitive") for s in mine["settings"])
