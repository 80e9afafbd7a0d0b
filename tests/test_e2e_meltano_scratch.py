"""A Meltano project outside this repository installs the plugins from git and runs them.

What a Meltano user does: `meltano init` a project of their own (offline settings: no Hub, no
telemetry, no version check), paste the plugin definitions of README.md's "Use the plugins in
your own Meltano project" with a `pip_url` of `git+file://<this repo>#subdirectory=<plugin>`,
`meltano install`, then two pipelines against a seeded sandbox: tap-cartcom -> target-jsonl,
and tap-jsonl (a listings file) -> target-cartcom. A second scratch project checks that
`meltano add --from-ref <plugin>/meltano-hub.yml` (the Hub definitions) is accepted.

`git+file://` installs the COMMITTED tree (HEAD of this checkout), not the working copy: commit
before running this test locally (it warns when the plugin folders have uncommitted changes).
In CI it runs on a fresh clone, where the two are the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import run_demo as demo
import yaml
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer

#: Installs the plugins into a scratch Meltano project from their wheels (minutes).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parent.parent
LISTINGS = ROOT / "demo" / "data" / "listings.jsonl"
TOKEN = "test-token"
PLUGIN_DIRS = ("tap-cartcom", "target-cartcom", "cartcom-client")


@dataclass
class Project:
    """The scratch Meltano project, the sandbox it talks to and the environment it runs in."""

    path: Path
    server: SandboxServer
    env: dict[str, str]
    out: Path

    def meltano(self, *args: str, timeout: int = 600) -> str:
        """Run ``meltano ARGS`` in the project; fail the test with the log's tail on error."""
        proc = subprocess.run(
            [demo.meltano_bin(), *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        log = proc.stdout + proc.stderr
        with (self.out / f"meltano-{args[0]}.log").open("a") as fh:
            fh.write(log)
        tail = [ln for ln in log.splitlines() if not ln.startswith(("│", "╭", "╰"))][-40:]
        assert proc.returncode == 0, f"meltano {' '.join(args)} failed:\n" + "\n".join(tail)
        return proc.stdout

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """GET from the sandbox (the tests' own reads)."""
        r = requests.get(
            self.server.base_url + path,
            params=params,
            headers={"X-AC-Auth-Token": TOKEN},
            timeout=30,
        )
        r.raise_for_status()
        return r.json()


def _git_url(subdirectory: str) -> str:
    """The `pip_url` a user would write, pointing at this checkout."""
    return f"git+file://{ROOT}#subdirectory={subdirectory}"


def _warn_if_uncommitted() -> None:
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", *PLUGIN_DIRS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if dirty:
        warnings.warn(
            "git+file:// installs the committed tree; uncommitted changes are not tested:\n"
            + dirty,
            stacklevel=2,
        )


def _clean_env(project: Path) -> dict[str, str]:
    """The shell's environment without anything that configures Meltano or these plugins."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MELTANO_", "CARTCOM_", "TAP_", "TARGET_"))
    }
    env.update(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_CLI_DISABLE_VERSION_CHECK="1",
        MELTANO_PROJECT_ROOT=str(project),
        # Secrets from the environment, as docs/meltano.md recommends.
        TAP_CARTCOM_ACCESS_TOKEN=TOKEN,
        TARGET_CARTCOM_ACCESS_TOKEN=TOKEN,
    )
    return env


def readme_plugins() -> dict[str, list[dict[str, Any]]]:
    """The `plugins:` README.md tells users to paste into their meltano.yml."""
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- own-project-yaml -->", 1)[1].split("<!-- /own-project-yaml -->")[0]
    return yaml.safe_load(block.split("```yaml", 1)[1].split("```", 1)[0])["plugins"]


def _configure(project: Project) -> None:
    """Paste README's definitions, pointed at this repo (git) and the sandbox; add PyPI plugins."""
    yml = project.path / "meltano.yml"
    data = yaml.safe_load(yml.read_text())
    data["send_anonymous_usage_stats"] = False
    data.setdefault("cli", {})["disable_version_check"] = True
    plugins = data["plugins"] = readme_plugins()
    api = {"api_url": project.server.base_url, "plan": "gold", "calls_per_window": 1000}
    api["window_seconds"] = 1
    for plugin in plugins["extractors"] + plugins["loaders"]:
        if plugin["name"] == "tap-cartcom":
            plugin["pip_url"] = _git_url("tap-cartcom")
            plugin["config"] = api
            plugin["select"] = ["orders.*"]
        if plugin["name"] == "target-cartcom":
            plugin["pip_url"] = _git_url("target-cartcom")
            plugin["config"] = {
                **api,
                "operations": ["link", "publish"],
                "results_path": str(project.out / "results.jsonl"),
            }
    plugins["extractors"].append(
        {
            "name": "tap-jsonl",
            "namespace": "tap_jsonl",
            "pip_url": "tap-jsonl==0.3.1",
            "executable": "tap-jsonl",
            "capabilities": ["catalog", "discover", "state", "about", "stream-maps"],
            "settings": [{"name": "path"}, {"name": "stream_name"}, {"name": "primary_keys"}],
            "config": {"path": str(LISTINGS), "stream_name": "listings", "primary_keys": ["sku"]},
        }
    )
    plugins["loaders"].append(
        {
            "name": "target-jsonl",
            "namespace": "target_jsonl",
            "pip_url": "target-jsonl==0.1.4",
            "executable": "target-jsonl",
            "settings": [{"name": "destination_path"}, {"name": "do_timestamp_file"}],
            "config": {"destination_path": str(project.out / "jsonl"), "do_timestamp_file": False},
        }
    )
    yml.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A fresh Meltano project with both plugins installed from git, and a seeded sandbox."""
    _warn_if_uncommitted()
    tmp = tmp_path_factory.mktemp("scratch")
    path = tmp / "my-project"
    db = tmp / "store.db"
    seed_store(str(db), products=demo.PRODUCTS, orders=200, seed=demo.SEED)
    server = SandboxServer(
        str(db), tokens=[TOKEN], config=SandboxConfig(plan="gold", rate_calls=1000, rate_window=1.0)
    )
    server.start()
    out = tmp / "out"
    (out / "jsonl").mkdir(parents=True)
    proj = Project(path, server, _clean_env(path), out)
    try:
        proj.env.pop("MELTANO_PROJECT_ROOT")  # `meltano init` creates the folder
        subprocess.run(
            [demo.meltano_bin(), "init", "--no_usage_stats", path.name],
            cwd=tmp,
            env=proj.env,
            capture_output=True,
            check=True,
            timeout=120,
        )
        proj.env["MELTANO_PROJECT_ROOT"] = str(path)
        for kind, plugin in (("extractor", "tap-cartcom"), ("loader", "target-cartcom")):
            ref = ROOT / plugin / "meltano-hub.yml"
            proj.meltano(
                "add", "--plugin-type", kind, "--no-install", "--from-ref", str(ref), plugin
            )
        _configure(proj)
        proj.meltano("install")
        yield proj
    finally:
        server.stop()


def test_meltano_add_accepts_the_hub_definitions(tmp_path: Path) -> None:
    """`meltano add --from-ref <plugin>/meltano-hub.yml` writes the whole definition, offline."""
    env = _clean_env(tmp_path / "hub-project")
    env.pop("MELTANO_PROJECT_ROOT")
    subprocess.run(
        [demo.meltano_bin(), "init", "--no_usage_stats", "hub-project"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=True,
        timeout=120,
    )
    project = tmp_path / "hub-project"
    for kind, plugin in (("extractor", "tap-cartcom"), ("loader", "target-cartcom")):
        ref = ROOT / plugin / "meltano-hub.yml"
        args = ["add", "--plugin-type", kind, "--no-install", "--from-ref", str(ref), plugin]
        proc = subprocess.run(
            [demo.meltano_bin(), *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    plugins = yaml.safe_load((project / "meltano.yml").read_text())["plugins"]
    for kind, plugin in (("extractors", "tap-cartcom"), ("loaders", "target-cartcom")):
        (added,) = [p for p in plugins[kind] if p["name"] == plugin]
        hub = yaml.safe_load((ROOT / plugin / "meltano-hub.yml").read_text())
        assert added["namespace"] == hub["namespace"]
        assert added["settings"] == hub["settings"]
        assert added["capabilities"] == hub["capabilities"]


def test_plugins_come_from_git_in_their_own_venvs(project: Project) -> None:
    """Each plugin is installed from git into its own venv, with its private client inside."""
    for kind, plugin, package in (
        ("extractors", "tap-cartcom", "tap_cartcom"),
        ("loaders", "target-cartcom", "target_cartcom"),
    ):
        python = project.path / ".meltano" / kind / plugin / "venv" / "bin" / "python"
        probe = (
            "import importlib.metadata as md, importlib.util as u, json;"
            f"d = md.distribution({plugin!r});"
            "print(json.dumps({'url': json.loads(d.read_text('direct_url.json'))['url'],"
            f"'client': u.find_spec('{package}._client.session') is not None,"
            "'shared': u.find_spec('cartcom_client') is not None}))"
        )
        got = json.loads(
            subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout
        )
        assert got == {"url": f"file://{ROOT}", "client": True, "shared": False}


def test_tap_cartcom_to_target_jsonl_lands_every_order(project: Project) -> None:
    """tap-cartcom -> target-jsonl: every order of the store, once; the bookmark is stored."""
    project.meltano("run", "tap-cartcom", "target-jsonl")
    landed = demo.read_jsonl(project.out / "jsonl" / "orders.jsonl")
    ids = [o["id"] for o in landed]
    store = {o["id"] for o in project.get("/orders", count=1000, fields="id")["orders"]}
    assert len(store) == 200
    assert len(ids) == len(set(ids))
    assert set(ids) == store
    assert sorted(p.name for p in (project.out / "jsonl").iterdir()) == ["orders.jsonl"]
    state = json.loads(project.meltano("state", "get", "dev:tap-cartcom-to-target-jsonl"))
    assert state["singer_state"]["bookmarks"]["orders"]["replication_key_value"]


def test_tap_jsonl_listings_to_target_cartcom_publishes(project: Project) -> None:
    """tap-jsonl (listings file) -> target-cartcom: missing listings created, the rest linked."""
    listings = demo.read_jsonl(LISTINGS)
    before = project.get("/products", count=1, fields="id")["total_count"]
    known = {
        p["item_number"]
        for p in project.get("/products", count=1000, fields="item_number")["products"]
    }
    known |= {
        r["item_number"]
        for r in project.get("/variant_inventory", count=2000, fields="item_number")[
            "variant_inventory"
        ]
    }
    known_upc = {
        p["gtin"]
        for p in project.get("/products", count=1000, fields="gtin")["products"]
        if p["gtin"]
    }
    new = [r for r in listings if r["sku"] not in known and r.get("upc") not in known_upc]
    assert new, "the feed should hold listings the store does not have"
    assert len(new) < len(listings), "the feed should hold listings the store has"

    project.meltano("run", "tap-jsonl", "target-cartcom")

    _rows, summary = demo.results(project.out / "results.jsonl")
    assert summary["failed"] == 0
    assert summary["outcomes"]["listings"] == {
        "created": len(new),
        "unchanged": len(listings) - len(new),
    }
    assert project.get("/products", count=1, fields="id")["total_count"] == before + len(new)
    simple = next(r for r in new if not r.get("variants"))
    product = project.get("/products", item_number=simple["sku"])["products"][0]
    assert product["item_name"] == simple["title"]
