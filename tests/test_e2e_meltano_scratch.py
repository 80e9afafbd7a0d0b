"""README.md's "Use the plugins in your own Meltano project", run as a newcomer runs it.

The test reads the section and runs every shell command it shows, in its order, in a scratch
Meltano project made by `meltano init` (offline: no Hub, no telemetry, no version check): it
installs the sandbox with the section's `pip install` into a venv of its own, seeds and serves
it, pastes the section's YAML with only the `pip_url` of tap-cartcom and target-cartcom changed
(to the section's clone form, `git+file://<this repo>#subdirectory=<plugin>`), takes the
sandbox's address and token from the section's `export` lines (the plugins' environment
variables, nothing in meltano.yml), then `meltano install`, the runs and `--about`. The
`meltano add --from-ref` commands run in a second project, whose `pip_url`s are then set as
the section says before `meltano install`. ``COMMANDS`` says what is done with each command;
``test_every_command_of_the_section_is_run`` fails when the section and the table differ.

The only substitutions: `/path/to/clone` is this checkout, and port 8600 a free port (the
sandbox is served on port 0 and prints its address). Three things that depend on nothing else
start together, to keep the module short: the sandbox's `pip install` (run by this venv's pip
into a venv of its own, `--python`), the project's `meltano init` and `meltano install`, and the
whole --from-ref project; every other command runs in the section's order. Before the runs,
the test sells some stock in the store (its own calls), so the feed has something to sync. The
guarantees are checked against the sandbox store: every order landed once in the JSON Lines
file and in DuckDB, an edit reaches the warehouse, the feed's quantities and prices are the
store's.

`git+file://` installs the COMMITTED tree (HEAD of this checkout), not the working copy: commit
before running this test locally (it warns when the plugin folders have uncommitted changes).
In CI it runs on a fresh clone, where the two are the same. Plugin venvs come from uv's cache
after the first run, like the other Meltano end-to-end tests.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import run_demo as demo
import yaml

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTION = "## Use the plugins in your own Meltano project"
PLUGIN_DIRS = ("tap-cartcom", "target-cartcom", "cartcom-client")
TOKEN = "test-token"  # the sandbox's default token, as the section exports it
PORT = "8600"

#: What the test does with each command of the section (``test_every_command_...`` keeps this
#: table and the README in step).
SANDBOX = "run in the sandbox's own venv"
SERVE = "served in the background until the end of the module"
PROJECT = "run in the scratch project"
ENV = "its variables set for every later command"
HUB = "run in a second scratch project (the --from-ref route)"
GIT_FORM = "not run: the git form of the next command, which installs the same from the clone"
STORE = "not run: for a real store"
COMMANDS: dict[str, str] = {
    'pip install "git+https://<git host>/<this repository>.git#subdirectory=cartcom-sandbox"': (
        GIT_FORM
    ),
    "pip install /path/to/clone/cartcom-sandbox": SANDBOX,
    "cartcom-sandbox seed --db store.db --products 300 --orders 1000 --seed 42": SANDBOX,
    "cartcom-sandbox serve --db store.db --port 8600 --plan gold": SERVE,
    "meltano install": PROJECT,
    "export TAP_CARTCOM_API_URL=http://127.0.0.1:8600/api/v1 "
    "TARGET_CARTCOM_API_URL=http://127.0.0.1:8600/api/v1": ENV,
    "export TAP_CARTCOM_ACCESS_TOKEN=test-token TARGET_CARTCOM_ACCESS_TOKEN=test-token": ENV,
    "export LISTINGS_FEED_PATH=/path/to/clone/demo/data/listings.jsonl": ENV,
    "meltano run tap-cartcom target-jsonl": PROJECT,
    "meltano run tap-cartcom-warehouse target-duckdb": PROJECT,
    "meltano run listings-feed target-cartcom": PROJECT,
    "meltano invoke tap-cartcom --about": PROJECT,
    "unset TAP_CARTCOM_API_URL TARGET_CARTCOM_API_URL": STORE,
    "export TAP_CARTCOM_DOMAIN=yourstore.americommerce.com "
    "TARGET_CARTCOM_DOMAIN=yourstore.americommerce.com": STORE,
    "export TAP_CARTCOM_ACCESS_TOKEN=... TARGET_CARTCOM_ACCESS_TOKEN=...": STORE,
    "export TAP_CARTCOM_PLAN=steel TARGET_CARTCOM_PLAN=steel": STORE,
    "export TARGET_CARTCOM_DRY_RUN=true": STORE,
    "meltano add --plugin-type extractor --no-install --from-ref "
    "/path/to/clone/tap-cartcom/meltano-hub.yml tap-cartcom": HUB,
    "meltano add --plugin-type loader --no-install --from-ref "
    "/path/to/clone/target-cartcom/meltano-hub.yml target-cartcom": HUB,
}
#: The prefix of each plugin's environment variables (Meltano: the name, upper-cased).
PREFIXES = {"TAP_CARTCOM_": "tap-cartcom", "TARGET_CARTCOM_": "target-cartcom"}
PREFIXES["LISTINGS_FEED_"] = "listings-feed"

pytestmark = pytest.mark.timeout(900)
slow = pytest.mark.slow


# -- the section ----------------------------------------------------------------------------
def section() -> str:
    """The README's section, up to the next second-level heading."""
    text = README.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end >= 0 else None]


def readme_commands() -> list[str]:
    """Every command of the section's ``sh`` blocks, in order, without comments."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section(), flags=re.DOTALL):
        for line in block.splitlines():
            command = re.sub(r"(^|\s)#.*$", "", line).strip()  # a `#` starting a word, as sh
            if command:
                commands.append(" ".join(command.split()))
    return commands


def readme_plugins() -> dict[str, list[dict[str, Any]]]:
    """The `plugins:` the section tells users to paste into their meltano.yml."""
    block = section().split("<!-- own-project-yaml -->", 1)[1]
    block = block.split("<!-- /own-project-yaml -->")[0]
    return yaml.safe_load(block.split("```yaml", 1)[1].split("```", 1)[0])["plugins"]


def git_url(plugin: str) -> str:
    """The section's clone form of a `pip_url`, for this checkout."""
    return f"git+file://{ROOT}#subdirectory={plugin}"


def exports(command: str) -> dict[str, str]:
    """The variables an `export NAME=VALUE ...` command sets."""
    words = shlex.split(command)
    assert words[0] == "export", command
    return dict(word.split("=", 1) for word in words[1:])


# -- running it -----------------------------------------------------------------------------
@dataclass
class Newcomer:
    """Where the commands run, the environment they share, and what each printed."""

    tmp: Path
    project: Path
    sandbox_dir: Path
    #: The clean environment: what the commands started at the beginning run with.
    base: dict[str, str]
    #: ``base`` plus what the section's `export` lines set so far.
    env: dict[str, str] = field(default_factory=dict)
    address: str = ""  # host:port the sandbox serves on
    outputs: dict[str, str] = field(default_factory=dict)
    server: subprocess.Popen[str] | None = None
    #: SKU -> the product as it was before the test sold some of its stock.
    sold: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The --from-ref project's definitions as `meltano add` wrote them (``_hub_project``).
    hub: Future[dict[str, Any]] | None = None
    _log: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        """The section's exports start from the clean environment."""
        self.env = dict(self.base)

    @property
    def sandbox_venv(self) -> Path:
        """The venv the sandbox is installed into."""
        return self.tmp / "sandbox-venv"

    def substitute(self, command: str) -> str:
        """The command with this checkout and the sandbox's real port."""
        command = command.replace("/path/to/clone", str(ROOT))
        if self.address:
            command = command.replace(f"127.0.0.1:{PORT}", self.address)
        return command

    def run(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
        """Run ``argv``; fail the test with the output's tail on a non-zero exit."""
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        log = proc.stdout + proc.stderr
        with self._log, (self.tmp / "commands.log").open("a") as fh:
            fh.write(f"\n===== {shlex.join(map(str, argv))} (exit {proc.returncode})\n{log}")
        tail = [ln for ln in log.splitlines() if not ln.startswith(("│", "╭", "╰"))][-40:]
        assert proc.returncode == 0, f"{shlex.join(map(str, argv))} failed:\n" + "\n".join(tail)
        return proc.stdout

    def meltano(
        self, command: str, project: Path | None = None, env: dict[str, str] | None = None
    ) -> str:
        """``meltano ...`` in the project, with the Meltano next to this interpreter."""
        argv = shlex.split(self.substitute(command))
        return self.run([demo.meltano_bin(), *argv[1:]], project or self.project, env)

    def pip_install(self, command: str) -> str:
        """``pip install ...`` into the sandbox's venv (this venv's pip, ``--python``)."""
        argv = shlex.split(self.substitute(command))
        venv = [sys.executable, "-m", "venv", "--without-pip", str(self.sandbox_venv)]
        self.run(venv, self.tmp, self.base)
        pip = [sys.executable, "-m", "pip", "--python", str(self.sandbox_venv / "bin" / "python")]
        return self.run([*pip, *argv[1:]], self.sandbox_dir, self.base)

    def sandbox(self, command: str) -> str:
        """``cartcom-sandbox ...`` from the sandbox's venv."""
        argv = shlex.split(self.substitute(command))
        return self.run([str(self.sandbox_venv / "bin" / argv[0]), *argv[1:]], self.sandbox_dir)

    def serve(self, command: str) -> None:
        """Start the sandbox as the section does, on a free port; keep its address."""
        argv = shlex.split(self.substitute(command.replace(f"--port {PORT}", "--port 0")))
        self.server = subprocess.Popen(
            [str(self.sandbox_venv / "bin" / argv[0]), *argv[1:]],
            cwd=self.sandbox_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.server.stdout is not None
        url = self.server.stdout.readline().strip()  # the first line is its API address
        assert url.startswith("http://127.0.0.1:"), url
        self.address = url.split("://", 1)[1].split("/", 1)[0]

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """The test's own calls to the sandbox store."""
        r = requests.request(
            method,
            f"http://{self.address}/api/v1{path}",
            headers={"X-AC-Auth-Token": TOKEN},
            timeout=30,
            **kwargs,
        )
        r.raise_for_status()
        return r.json() if r.content else None

    def products(self) -> dict[str, dict[str, Any]]:
        """The store's products by SKU."""
        fields = "id,item_number,quantity_on_hand,price,use_variant_inventory"
        rows = self.api("GET", "/products", params={"count": 1000, "fields": fields})
        return {p["item_number"]: p for p in rows["products"]}

    def sell_some_stock(self, count: int = 6) -> None:
        """Change quantity and price of a few products the feed lists, as a day of sales would."""
        feed = {r["sku"]: r for r in demo.read_jsonl(ROOT / "demo" / "data" / "listings.jsonl")}
        products = self.products()
        simple = sorted(
            sku
            for sku, row in feed.items()
            if not row.get("variants")
            and sku in products
            and not products[sku]["use_variant_inventory"]
        )
        for sku in simple[:count]:
            product = products[sku]
            body = {"quantity_on_hand": int(feed[sku]["quantity"]) + 7}
            body["price"] = round(float(feed[sku]["price"]) + 1.25, 2)
            self.api("PUT", f"/products/{product['id']}", json=body)
            self.sold[sku] = product

    def state(self, state_id: str) -> dict[str, Any]:
        """A pipeline's stored state, read from the project's system database."""
        with sqlite3.connect(self.project / ".meltano" / "meltano.db") as db:
            row = db.execute(
                "SELECT completed_state FROM state WHERE state_id = ?", (state_id,)
            ).fetchone()
        assert row is not None, f"no state for {state_id}"
        return json.loads(row[0])


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


def _clean_env() -> dict[str, str]:
    """The shell's environment without anything that configures Meltano or these plugins."""
    prefixes = ("MELTANO_", "CARTCOM_", "TAP_", "TARGET_", "LISTINGS_FEED_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    # Offline, as docs/meltano.md asks of every project here (`meltano init --no_usage_stats`
    # already writes the first into meltano.yml).
    env.update(MELTANO_SEND_ANONYMOUS_USAGE_STATS="false", MELTANO_CLI_DISABLE_VERSION_CHECK="1")
    return env


def _init(newcomer: Newcomer, project: Path) -> None:
    """`meltano init` a project (the section's step 2 starts from one)."""
    argv = [demo.meltano_bin(), "init", "--no_usage_stats", project.name]
    newcomer.run(argv, project.parent, newcomer.base)


def _paste(project: Path) -> None:
    """Paste the section's YAML into meltano.yml, changing only the Cart.com `pip_url`s."""
    yml = project / "meltano.yml"
    data = yaml.safe_load(yml.read_text())
    plugins = data["plugins"] = readme_plugins()
    for plugin in plugins["extractors"] + plugins["loaders"]:
        if plugin["name"] in ("tap-cartcom", "target-cartcom"):
            plugin["pip_url"] = git_url(plugin["name"])
    yml.write_text(yaml.safe_dump(data, sort_keys=False))


def _project(newcomer: Newcomer) -> str:
    """`meltano init`, the section's YAML pasted, then its `meltano install`."""
    _init(newcomer, newcomer.project)
    _paste(newcomer.project)
    return newcomer.meltano("meltano install", env=newcomer.base)


def _hub_project(newcomer: Newcomer) -> dict[str, Any]:
    """The --from-ref route in a project of its own: the adds, `pip_url` set, `meltano install`.

    Returns the definitions as `meltano add` wrote them, before `pip_url` was set.
    """
    project = newcomer.tmp / "hub-project"
    _init(newcomer, project)
    for command in [c for c in readme_commands() if COMMANDS.get(c) == HUB]:
        newcomer.meltano(command, project, newcomer.base)
    yml = project / "meltano.yml"
    data = yaml.safe_load(yml.read_text())
    added = json.loads(json.dumps(data["plugins"]))
    for plugin in data["plugins"]["extractors"] + data["plugins"]["loaders"]:
        plugin["pip_url"] = git_url(plugin["name"])  # as the section says, before the install
    yml.write_text(yaml.safe_dump(data, sort_keys=False))
    newcomer.meltano("meltano install", project, newcomer.base)
    return added


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newcomer]:
    """Every command of the section, run in order; the sandbox still serving afterwards."""
    _warn_if_uncommitted()
    tmp = tmp_path_factory.mktemp("newcomer")
    (tmp / "sandbox").mkdir()
    me = Newcomer(tmp, tmp / "my-project", tmp / "sandbox", base=_clean_env())
    (pip,) = [c for c in readme_commands() if COMMANDS.get(c) == SANDBOX and c.startswith("pip ")]
    pool = ThreadPoolExecutor(max_workers=3)
    jobs: dict[str, Callable[[], Any]] = {
        pip: lambda: me.pip_install(pip),
        "meltano install": lambda: _project(me),
        HUB: lambda: _hub_project(me),
    }
    started = {key: pool.submit(job) for key, job in jobs.items()}
    me.hub = started[HUB]
    try:
        for command in readme_commands():
            kind = COMMANDS.get(command)
            assert kind is not None, f"the section has a command the test does not know: {command}"
            if command in started:
                me.outputs[command] = started[command].result(timeout=900)
            elif kind == SANDBOX:
                me.outputs[command] = me.sandbox(command)
            elif kind == SERVE:
                me.serve(command)
                me.sell_some_stock()
            elif kind == ENV:
                me.env.update({k: me.substitute(v) for k, v in exports(command).items()})
            elif kind == PROJECT:
                me.outputs[command] = me.meltano(command)
        yield me
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if me.server is not None:
            me.server.terminate()
            me.server.wait(timeout=30)


# -- the section itself (fast) --------------------------------------------------------------
def test_every_command_of_the_section_is_run() -> None:
    """The table of commands is the section's, command for command (nothing skipped or stale)."""
    assert readme_commands() == list(COMMANDS), (
        "README's own-project section and COMMANDS differ: update the table "
        "(and what the test does with a new command)"
    )


def test_every_exported_variable_sets_a_declared_setting() -> None:
    """Meltano reads `<PLUGIN>_<SETTING>` only for a declared setting (issue 21: `api_url`)."""
    plugins = readme_plugins()
    declared = {
        p["name"]: {s["name"] for s in p.get("settings", [])}
        for p in plugins["extractors"] + plugins["loaders"]
    }
    exported = [v for c in readme_commands() if c.startswith("export ") for v in exports(c)]
    assert exported
    for variable in exported:
        prefix = next(p for p in PREFIXES if variable.startswith(p))
        setting = variable.removeprefix(prefix).lower()
        assert setting in declared[PREFIXES[prefix]], f"{variable}: `{setting}` is not declared"


def test_the_section_pins_every_pypi_plugin_and_names_one_plan() -> None:
    """Every PyPI plugin is pinned; the plan in the YAML is the one the sandbox is served on."""
    plugins = readme_plugins()
    for plugin in plugins["extractors"] + plugins["loaders"]:
        url = plugin.get("pip_url")
        if url is None or url.startswith("git+"):
            continue
        assert all("==" in part for part in url.split()), plugin["name"]
    plans = {
        p["config"]["plan"]
        for p in plugins["extractors"] + plugins["loaders"]
        if "plan" in p.get("config", {})
    }
    (serve,) = [c for c in readme_commands() if c.startswith("cartcom-sandbox serve")]
    assert plans == {serve.split("--plan ", 1)[1].split()[0]}


# -- what the commands did (slow) -----------------------------------------------------------
@slow
def test_plugins_come_from_git_in_their_own_venvs(newcomer: Newcomer) -> None:
    """Each plugin is installed from git into its own venv, with its private client inside."""
    for kind, plugin, package in (
        ("extractors", "tap-cartcom", "tap_cartcom"),
        ("loaders", "target-cartcom", "target_cartcom"),
    ):
        python = newcomer.project / ".meltano" / kind / plugin / "venv" / "bin" / "python"
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


@slow
def test_the_sandbox_came_from_the_clone_into_its_own_venv(newcomer: Newcomer) -> None:
    """`pip install /path/to/clone/cartcom-sandbox` gave the `cartcom-sandbox` command."""
    python = newcomer.tmp / "sandbox-venv" / "bin" / "python"
    probe = (
        "import importlib.metadata as md, json;"
        "print(json.loads(md.distribution('cartcom-sandbox').read_text('direct_url.json'))['url'])"
    )
    url = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    assert url.stdout.strip() == f"file://{ROOT / 'cartcom-sandbox'}"


@slow
def test_every_order_lands_once_in_the_jsonl_file(newcomer: Newcomer) -> None:
    """tap-cartcom -> target-jsonl: every order of the store, once, read by `created_at`."""
    landed = demo.read_jsonl(newcomer.project / "output" / "orders" / "orders.jsonl")
    ids = [o["id"] for o in landed]
    rows = newcomer.api("GET", "/orders", params={"count": 1000, "fields": "id"})["orders"]
    store = {o["id"] for o in rows}
    assert len(store) == 1000
    assert len(ids) == len(set(ids))
    assert set(ids) == store
    state = newcomer.state("dev:tap-cartcom-to-target-jsonl")
    assert state["singer_state"]["bookmarks"]["orders"]["replication_key"] == "created_at"


@slow
def test_the_warehouse_holds_every_order_once_and_sees_an_edit(newcomer: Newcomer) -> None:
    """tap-cartcom-warehouse (`updated_at`) -> target-duckdb: one row per order, edits upserted.

    The order's status is changed in the store, then the section's run is run again.
    """
    db = newcomer.project / "output" / "warehouse.duckdb"
    python = newcomer.project / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"

    def rows() -> dict[int, int]:
        sql = "SELECT id, order_status_id FROM cartcom.orders"
        out = subprocess.run(
            [python, ROOT / "demo" / "query_duckdb.py", db, sql],
            capture_output=True,
            text=True,
            check=True,
        )
        found = json.loads(out.stdout)[0]
        assert len(found) == len({r[0] for r in found}), "an order has two rows"
        return {int(r[0]): int(r[1]) for r in found}

    store = newcomer.api("GET", "/orders", params={"count": 1000, "fields": "id,order_status_id"})
    before = {o["id"]: o["order_status_id"] for o in store["orders"]}
    assert rows() == before
    state = newcomer.state("dev:tap-cartcom-warehouse-to-target-duckdb")
    assert state["singer_state"]["bookmarks"]["orders"]["replication_key"] == "updated_at"
    order_id = min(before)
    statuses = newcomer.api("GET", "/order_statuses", params={"count": 100})["order_statuses"]
    moved = next(s["id"] for s in statuses if s["id"] != before[order_id])
    newcomer.api("PUT", f"/orders/{order_id}/status", json={"order_status_id": moved})
    newcomer.meltano("meltano run tap-cartcom-warehouse target-duckdb")
    assert rows() == {**before, order_id: moved}


@slow
def test_the_feed_quantities_and_prices_are_the_stores(newcomer: Newcomer) -> None:
    """listings-feed -> target-cartcom (link, sync): what was sold is written back, only that."""
    feed = {r["sku"]: r for r in demo.read_jsonl(ROOT / "demo" / "data" / "listings.jsonl")}
    rows, summary = demo.results(newcomer.project / "output" / "cartcom-results.jsonl")
    assert summary["failed"] == 0
    assert summary["status"] == "completed"
    assert newcomer.sold, "the test should have sold stock of some listed products"
    products = newcomer.products()
    for sku in newcomer.sold:
        assert products[sku]["quantity_on_hand"] == feed[sku]["quantity"], sku
        assert float(products[sku]["price"]) == pytest.approx(feed[sku]["price"]), sku
    updated = {r["key"] for r in rows if r["outcome"] == "updated"}
    assert updated == set(newcomer.sold)
    assert summary["calls"]["writes"] == len(newcomer.sold)


@slow
def test_about_lists_the_connection_settings(newcomer: Newcomer) -> None:
    """`meltano invoke tap-cartcom --about` shows every setting, `api_url` and `domain` too."""
    about = newcomer.outputs["meltano invoke tap-cartcom --about"]
    for setting in ("access_token", "domain", "api_url", "plan", "replication_key"):
        assert setting in about


@slow
def test_the_hub_definitions_install_once_their_pip_url_is_set(newcomer: Newcomer) -> None:
    """The --from-ref route: the section's `meltano add`s, then `pip_url` set and installed."""
    assert newcomer.hub is not None
    added = newcomer.hub.result(timeout=900)  # the install after setting pip_url succeeded
    for kind, plugin in (("extractors", "tap-cartcom"), ("loaders", "target-cartcom")):
        (definition,) = [p for p in added[kind] if p["name"] == plugin]
        hub = yaml.safe_load((ROOT / plugin / "meltano-hub.yml").read_text())
        for key in ("namespace", "settings", "capabilities", "executable", "pip_url"):
            assert definition[key] == hub[key], (plugin, key)
    venvs = newcomer.tmp / "hub-project" / ".meltano"
    assert (venvs / "extractors" / "tap-cartcom" / "venv" / "bin" / "tap-cartcom").exists()
    assert (venvs / "loaders" / "target-cartcom" / "venv" / "bin" / "target-cartcom").exists()
