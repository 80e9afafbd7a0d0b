"""``make demo``: the whole mission on a local sandbox store, through Meltano.

Run as ``python demo/run_demo.py`` (``--api-only`` for the API tour alone). It seeds and
serves a sandbox store, shows a few raw API calls, then runs the Meltano jobs of meltano.yml
against it: extract-store, get-orders (with acknowledgements), publish-listings, sync-listings,
push-tracking and extract-store again, and stops the sandbox. Everything it writes goes under
``.demo/`` (gitignored; plugin venvs stay in ``.meltano/``), rebuilt on every run, so running it
twice gives the same show.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seed import seed_store
from cartcom_sandbox.server import SandboxServer

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
TOKEN = "test-token"  # noqa: S105 - the sandbox's default token (meltano.yml's dev environment)
# The store the sample feeds in demo/data/ were built from (demo/make_feeds.py): same seed, sizes.
SEED = 42
PRODUCTS = 300
ORDERS = 1000
#: The status get-orders' acknowledgement sets (meltano.yml, target-cartcom-ack).
ACK_STATUS = "Awaiting Fulfillment"
#: Cart.com's window is 10 s; the demo runs the gold plan (50 calls) on a 1 s window, i.e. ten
#: times faster, so the whole pipeline fits in a few minutes. Pacing works exactly the same way.
DEMO_WINDOW_SECONDS = 1

_T0 = time.monotonic()


def say(msg: str) -> None:
    """Print a progress line with the elapsed time."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {msg}", flush=True)


def heading(title: str) -> None:
    """Print a section heading."""
    print(f"\n== {title} ==", flush=True)


@dataclass
class Response:
    """What the demo shows of one HTTP exchange."""

    status: int
    headers: dict[str, str]
    body: Any


class Api:
    """A tiny stdlib HTTP client for the demo (the tap and target use cartcom-client)."""

    def __init__(self, base: str, token: str | None) -> None:
        """Talk to ``base`` (``.../api/v1``) with ``token`` (None sends no token)."""
        self.base = base.rstrip("/")
        self.token = token

    def get(self, path_query: str) -> Response:
        """GET ``path_query`` (relative to the base)."""
        return self.call("GET", path_query)

    def post(self, path: str, body: Any) -> Response:
        """POST a JSON ``body`` to ``path``."""
        return self.call("POST", path, body)

    def call(self, method: str, path_query: str, body: Any = None) -> Response:
        """One request; HTTP errors come back as responses."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path_query, data=data, method=method)  # noqa: S310
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token is not None:
            req.add_header("X-AC-Auth-Token", self.token)
        req.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
                return Response(resp.status, dict(resp.headers.items()), _json(resp.read()))
        except urllib.error.HTTPError as err:
            return Response(err.code, dict(err.headers.items()), _json(err.read()))


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw[:200].decode("utf-8", "replace")


# ------------------------------------------------------------------------------- display
def table(rows: Sequence[dict[str, Any]], cols: Sequence[str], width: int = 34) -> str:
    """A compact fixed-width text table of ``cols`` from ``rows``."""

    def cell(v: Any) -> str:
        s = "" if v is None else str(v)
        return s if len(s) <= width else s[: width - 1] + "…"

    grid = [[cell(c) for c in cols]] + [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in grid) for i in range(len(cols))]
    lines = [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in grid
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("  " + line for line in lines)


def show_call(api: Api, path_query: str, note: str = "") -> Response:
    """Make one GET and print its status line, call-limit header and a one-line summary."""
    r = api.get(path_query)
    limit = r.headers.get("X-AC-Call-Limit", "-")
    extra = ""
    if r.status == 429:
        extra = f"  Retry-After: {r.headers.get('Retry-After', '?')}"
    print(f"  GET {path_query}", flush=True)
    print(f"      -> {r.status}  X-AC-Call-Limit: {limit}{extra}   {note}".rstrip(), flush=True)
    print(f"      {summarise(r.body)}", flush=True)
    return r


def summarise(body: Any) -> str:
    """One line about a response body: a list wrapper, an error envelope or an object."""
    if isinstance(body, dict):
        if "status_code" in body and "message" in body:
            return f"error envelope: {json.dumps(body)[:160]}"
        lists = {k: v for k, v in body.items() if isinstance(v, list)}
        if "total_count" in body and lists:
            key, items = next(iter(lists.items()))
            links = [k for k in ("next_page", "previous_page") if k in body]
            return (
                f"total_count={body['total_count']}, {len(items)} {key} on this page"
                f"{', links: ' + ', '.join(links) if links else ''}"
            )
        return "object: " + ", ".join(list(body)[:8])
    return repr(body)[:160]


# ------------------------------------------------------------------------------- steps
def seed(db: Path, products: int, orders: int, seed: int) -> None:
    """Seed a fresh deterministic store into ``db`` (what ``cartcom-sandbox seed`` does)."""
    say(
        f"seeding: cartcom-sandbox seed --db {db.relative_to(ROOT)} --products {products} "
        f"--orders {orders} --seed {seed}"
    )
    summary = seed_store(str(db), products=products, orders=orders, seed=seed, overwrite=True)
    counts = summary.get("counts", {})
    shown = ", ".join(
        f"{counts[k]} {k}"
        for k in (
            "products",
            "variant_inventory",
            "customers",
            "orders",
            "order_items",
            "order_shipments",
        )
        if k in counts
    )
    say(f"seeded in {summary.get('seconds', 0):.1f} s: {shown}")


def start_sandbox(db: Path, plan: str, window: float = 10.0) -> SandboxServer:
    """Serve ``db`` in a background thread on a free port (what ``cartcom-sandbox serve`` does)."""
    server = SandboxServer(
        str(db), port=0, tokens=[TOKEN], config=SandboxConfig(plan=plan, rate_window=window)
    )
    return server.start()


def api_tour(api: Api, anon: Api) -> None:
    """A few real calls, each with its X-AC-Call-Limit header."""
    heading("A few real API calls")
    show_call(api, "/stores", "(the store itself)")
    first = show_call(
        api, "/products?count=5&fields=id,item_number,item_name,price,quantity_on_hand"
    )
    r = show_call(api, "/orders?count=5&expand=items&sort=-id")
    if r.status == 200:
        items = sum(len(o.get("items") or []) for o in r.body.get("orders", []))
        print(f"      expand=items filled {items} line items into those orders")
    show_call(
        api,
        "/products?price=gt:20+AND+lte:60&count=3&fields=id,item_name,price",
        "(price > 20 AND <= 60)",
    )
    pages = -(-int((first.body or {}).get("total_count", 0)) // 100) if first.status == 200 else 0
    show_call(api, f"/products?count=100&page={pages + 1}", f"(page {pages + 1} of {pages})")
    show_call(anon, "/products?count=1", "(no X-AC-Auth-Token)")

    heading("List keys: a child resource lists under its nested name (docs/api.md §1.2)")
    print("  as public clients written against live stores read them; the tap and target find")
    print("  the list by shape (the one array that is not paging), so either key works")
    for path in ("/order_items", "/order_shipments", "/order_addresses", "/product_variants"):
        show_call(api, f"{path}?count=2&fields=id")


def burst(db: Path) -> None:
    """Show the steel plan's 5 calls per 10 s: the 6th call in the window gets 429."""
    heading("Rate limit: a burst on the steel plan (5 calls / 10 s)")
    server = start_sandbox(db, "steel")
    try:
        steel = Api(server.base_url, TOKEN)
        for _ in range(6):
            r = steel.get("/order_statuses?count=1&fields=id")
            retry = r.headers.get("Retry-After")
            print(
                f"  GET /order_statuses -> {r.status}  X-AC-Call-Limit: "
                f"{r.headers.get('X-AC-Call-Limit', '-')}"
                f"{'  Retry-After: ' + retry if retry else ''}",
                flush=True,
            )
            if r.status == 429:
                print(f"      {summarise(r.body)}")
                break
    finally:
        server.stop()


def pages_of_data(api: Api) -> None:
    """A page of products and a page of orders as compact tables."""
    heading("A page of products")
    r = api.get(
        "/products?count=5&sort=id&fields=id,item_number,item_name,price,"
        "quantity_on_hand,manufacturer_id,is_hidden"
    )
    print(
        f"  X-AC-Call-Limit: {r.headers.get('X-AC-Call-Limit', '-')}, total_count="
        f"{(r.body or {}).get('total_count')}"
    )
    print(
        table(
            (r.body or {}).get("products", []),
            ["id", "item_number", "item_name", "price", "quantity_on_hand", "is_hidden"],
        )
    )

    heading("A page of orders (newest first)")
    statuses = api.get("/order_statuses?count=100&fields=id,name")
    names = {s["id"]: s["name"] for s in (statuses.body or {}).get("order_statuses", [])}
    r = api.get(
        "/orders?count=5&sort=-ordered_at&expand=items&fields=id,ordered_at,"
        "order_status_id,grand_total,customer_id,items"
    )
    rows = [
        {
            **o,
            "status": names.get(o.get("order_status_id"), o.get("order_status_id")),
            "lines": len(o.get("items") or []),
        }
        for o in (r.body or {}).get("orders", [])
    ]
    print(
        f"  X-AC-Call-Limit: {r.headers.get('X-AC-Call-Limit', '-')}, total_count="
        f"{(r.body or {}).get('total_count')}"
    )
    print(table(rows, ["id", "ordered_at", "status", "lines", "grand_total", "customer_id"]))


# ------------------------------------------------------------------------------- Meltano
#: Plugins with their own virtualenv (the others inherit one): (kind, name, executable).
MELTANO_PLUGINS = (
    ("extractors", "tap-cartcom", "tap-cartcom"),
    ("extractors", "listings-feed", "tap-jsonl"),
    ("extractors", "supplier-csv", "tap-spreadsheets"),
    ("extractors", "imported-orders", "tap-cartcom-import-log"),
    ("loaders", "target-cartcom", "target-cartcom"),
    ("loaders", "target-duckdb", "target-duckdb"),
    ("loaders", "target-postgres", "target-postgres"),
    ("loaders", "target-jsonl", "target-jsonl"),
)
_STAMP_SOURCES = (
    "meltano.yml",
    "cartcom-client/pyproject.toml",
    "tap-cartcom/pyproject.toml",
    "target-cartcom/pyproject.toml",
)


#: Variables that configure meltano or a plugin of meltano.yml: never inherited from the shell,
#: so the demo and the tests cannot reach a real store or write where a user's jobs write.
_PLUGIN_ENV_PREFIXES = (
    "MELTANO_",
    "CARTCOM_",
    "TAP_CARTCOM_",
    "TARGET_CARTCOM_",
    "TAP_GET_ORDERS_",
    "TAP_JSONL_",
    "LISTINGS_FEED_",
    "SHIPMENTS_FEED_",
    "SUPPLIER_CSV_",
    "IMPORTED_ORDERS_",
    "TARGET_DUCKDB_",
    "TARGET_POSTGRES_",
    "TARGET_JSONL_",
)


def meltano_bin() -> str:
    """The meltano next to this interpreter (the project venv), else the one on PATH."""
    here = Path(sys.executable).parent / "meltano"
    return str(here) if here.exists() else "meltano"


def private_sys_dir(path: Path) -> Path:
    """A Meltano system dir of its own that shares the plugin venvs of ``.meltano/``.

    Meltano writes each run's config and catalog to ``<sys dir>/run/<plugin>/``, so two runs of
    the same plugin at once (the demo and the tests, or two test sessions) would overwrite each
    other's files. Giving each its own system dir, with the venv folders linked, keeps them apart.
    """
    path.mkdir(parents=True, exist_ok=True)
    for kind in ("extractors", "loaders", "mappers", "utilities"):
        shared = ROOT / ".meltano" / kind
        shared.mkdir(parents=True, exist_ok=True)
        link = path / kind
        if not link.is_symlink():
            link.symlink_to(shared, target_is_directory=True)
    return path


def meltano_env(
    api_url: str,
    out: Path,
    state_db: Path,
    *,
    token: str = TOKEN,
    window_seconds: int | None = DEMO_WINDOW_SECONDS,
    plan: str = "gold",
    calls_per_window: int | None = None,
) -> dict[str, str]:
    """Environment that points meltano.yml's dev plugins at a sandbox, writing under ``out``.

    Only environment variables are used, so meltano.yml stays as a user would run it; the
    inherited plugins (tap-get-orders, target-cartcom-*) take the parents' variables.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PLUGIN_ENV_PREFIXES)}
    env.update(
        {
            "MELTANO_SYS_DIR_ROOT": str(private_sys_dir(state_db.parent / "meltano-sys")),
            "MELTANO_ENVIRONMENT": "dev",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "1",
            "MELTANO_DATABASE_URI": f"sqlite:///{state_db}",
            "TARGET_DUCKDB_FILEPATH": str(out / "warehouse.duckdb"),
            "TARGET_JSONL_DESTINATION_PATH": str(out / "orders"),
            "IMPORTED_ORDERS_PATH": str(out / "orders" / "orders.jsonl"),
        }
    )
    for plugin in ("TAP_CARTCOM", "TARGET_CARTCOM"):
        env[f"{plugin}_API_URL"] = api_url
        env[f"{plugin}_ACCESS_TOKEN"] = token
        env[f"{plugin}_PLAN"] = plan
        if window_seconds is not None:
            env[f"{plugin}_WINDOW_SECONDS"] = str(window_seconds)
        if calls_per_window is not None:
            env[f"{plugin}_CALLS_PER_WINDOW"] = str(calls_per_window)
    for name in ("PUBLISH", "SYNC", "TRACKING", "ACK"):
        env[f"TARGET_CARTCOM_{name}_RESULTS_PATH"] = str(out / "results" / f"{name.lower()}.jsonl")
    env["TARGET_CARTCOM_RESULTS_PATH"] = str(out / "results" / "target-cartcom.jsonl")
    return env


def ensure_plugins(log: Path) -> None:
    """``meltano install`` when a plugin venv is missing or the plugin definitions changed."""
    digest = hashlib.sha256()
    for name in _STAMP_SOURCES:
        digest.update((ROOT / name).read_bytes())
    stamp = ROOT / ".meltano" / ".demo-installed"
    missing = [
        n
        for kind, n, exe in MELTANO_PLUGINS
        if not (ROOT / ".meltano" / kind / n / "venv" / "bin" / exe).exists()
    ]
    if not missing and stamp.exists() and stamp.read_text() == digest.hexdigest():
        say("Meltano plugins already installed in .meltano/")
        return
    say("meltano install: building the plugin venvs in .meltano/ (once; uv, from PyPI)")
    t = time.monotonic()
    env = dict(
        os.environ,
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_CLI_DISABLE_VERSION_CHECK="1",
    )
    with log.open("w") as fh:
        rc = subprocess.run(
            [meltano_bin(), "install"],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    if rc:
        print(log.read_text()[-3000:])
        raise SystemExit(f"meltano install failed (exit {rc}); full log: {log}")
    stamp.write_text(digest.hexdigest())
    say(f"plugins installed in {time.monotonic() - t:.1f} s")


@dataclass
class JobRun:
    """What one ``meltano run`` did."""

    job: str
    seconds: float
    calls: int
    log: str

    def loaded(self) -> dict[str, int]:
        """Rows per table that target-duckdb loaded in this run (from its log)."""
        out: dict[str, int] = {}
        for m in re.finditer(
            r"Loading (\d+) rows into '\"[^\"]+\"\.\"[^\"]+\"\.\"([^\"]+)\"'", self.log
        ):
            out[m.group(2)] = out.get(m.group(2), 0) + int(m.group(1))
        return out


def run_job(job: str, env: dict[str, str], server: SandboxServer, logs: Path) -> JobRun:
    """``meltano run JOB``, with a progress line every 15 s; stops the demo on failure."""
    before = len(server.calls)
    log = logs / f"{job}.log"
    t = time.monotonic()
    say(f"meltano run {job}")
    offset = log.stat().st_size if log.exists() else 0
    with log.open("a") as fh:
        fh.write(f"\n===== meltano run {job}\n")
        fh.flush()
        proc = subprocess.Popen(
            [meltano_bin(), "run", job], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT
        )
        while True:
            try:
                rc = proc.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                say(
                    f"  ... {job} still running ({time.monotonic() - t:.0f} s, "
                    f"{len(server.calls) - before} API calls so far)"
                )
    with log.open() as fh:
        fh.seek(offset)
        text = fh.read()
    if rc:
        tail = "\n".join(ln for ln in text.splitlines()[-40:] if not ln.startswith(("│", "╭", "╰")))
        print(tail)
        raise SystemExit(f"meltano run {job} failed (exit {rc}); full log: {log}")
    run = JobRun(job, time.monotonic() - t, len(server.calls) - before, text)
    say(f"{job} done in {run.seconds:.1f} s, {run.calls} API calls")
    return run


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of ``path`` ([] when missing)."""
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def results(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """target-cartcom's per-record results and the last run's summary."""
    rows = read_jsonl(path)
    summaries = [i for i, r in enumerate(rows) if r.get("type") == "summary"]
    if not summaries:
        return rows, {}
    last = summaries[-1]
    first = summaries[-2] + 1 if len(summaries) > 1 else 0
    return rows[first:last], rows[last]


def outcome_line(summary: dict[str, Any]) -> str:
    """'created 155, unchanged 55; 5 reads + 819 writes'."""
    parts = []
    for stream, counts in (summary.get("outcomes") or {}).items():
        parts.append(f"{stream}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    calls = summary.get("calls") or {}
    return (
        f"{'; '.join(parts)}  |  calls: {calls.get('reads', 0)} reads + "
        f"{calls.get('writes', 0)} writes"
    )


def duck(db: Path, *queries: str) -> list[list[list[Any]]]:
    """Run queries on the DuckDB file with target-duckdb's own interpreter."""
    python = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
    out = subprocess.run(
        [str(python), str(ROOT / "demo" / "query_duckdb.py"), str(db), *queries],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def db_counts(db: Path, tables: Sequence[str]) -> dict[str, int]:
    """Rows per table in the demo database."""
    if not tables:
        return {}
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM cartcom.\"{t}\"" for t in tables)
    return {str(name): int(n) for name, n in duck(db, sql)[0]}


def show_extract(run: JobRun, db: Path, tables: Sequence[str], first: bool) -> None:
    """What extract-store loaded in this run and what the database holds."""
    loaded = run.loaded()
    counts = db_counts(db, tables)
    rows = [
        {"table": t, "rows loaded this run": loaded.get(t, 0), "rows in DB": counts.get(t)}
        for t in tables
        if first or loaded.get(t)
    ]
    print(table(rows, ["table", "rows loaded this run", "rows in DB"]))
    full = sorted(set(re.findall(r"Beginning sync of '(\w+)' in full_table mode", run.log)))
    if full:
        print(f"  re-read in full on every run (small reference tables): {', '.join(full)}")
    if not first:
        quiet = [t for t in tables if not loaded.get(t)]
        if quiet:
            print(f"  nothing new in: {', '.join(quiet)}")


def show_state(env: dict[str, str]) -> None:
    """The incremental state meltano keeps for extract-store."""
    out = subprocess.run(
        [meltano_bin(), "state", "get", "dev:tap-cartcom-to-target-duckdb"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        bookmarks = json.loads(out.stdout)["singer_state"]["bookmarks"]
    except (ValueError, KeyError):
        print("  (no state)")
        return
    print("  meltano state get dev:tap-cartcom-to-target-duckdb  (bookmarks with a key):")
    for stream, mark in bookmarks.items():
        if mark.get("replication_key_value"):
            print(
                f"    {stream:10s} {mark['replication_key']} >= {mark['replication_key_value']}"
                f"  ({len(mark.get('emitted') or {})} ids remembered for the lookback)"
            )


def pipeline(server: SandboxServer, api: Api) -> None:
    """The Meltano jobs, in the order a merchant's day runs them."""
    out, logs = WORK / "output", WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = meltano_env(server.base_url, out, WORK / "meltano.db")
    db = out / "warehouse.duckdb"
    out.mkdir(parents=True, exist_ok=True)

    heading("1. extract-store: tap-cartcom -> DuckDB (.demo/output/warehouse.duckdb)")
    run = run_job("extract-store", env, server, logs)
    tables = sorted(run.loaded())
    show_extract(run, db, tables, first=True)

    heading(
        f"2. get-orders: 'Processing' orders of the last 30 days -> JSONL, then acknowledged "
        f"as '{ACK_STATUS}'"
    )
    r = api.post("/order_statuses", {"name": ACK_STATUS, "is_open": True})
    say(f"store setup: created order status '{ACK_STATUS}' (POST /order_statuses -> {r.status})")
    run = run_job("get-orders", env, server, logs)
    orders = read_jsonl(out / "orders" / "orders.jsonl")
    items = read_jsonl(out / "orders" / "order_items.jsonl")
    print(
        f"  imported {len(orders)} orders with {len(items)} line items into "
        f".demo/output/orders/*.jsonl"
    )
    print(
        table(
            sorted(orders, key=lambda o: -int(o["id"]))[:5],
            ["id", "ordered_at", "grand_total", "customer_id"],
        )
    )
    ack_rows, summary = results(out / "results" / "ack.jsonl")
    print(f"  acknowledgements: {outcome_line(summary)}")
    if ack_rows:
        change = (ack_rows[0].get("changes") or {}).get("order_status") or {}
        print(
            f"  e.g. order {ack_rows[0].get('key')}: {change.get('old')} -> {change.get('new')}"
            " (PUT /orders/{id}/status)"
        )

    heading("3. publish-listings: the supplier feed demo/data/listings.jsonl (link + publish)")
    run = run_job("publish-listings", env, server, logs)
    rows, summary = results(out / "results" / "publish.jsonl")
    print(f"  {outcome_line(summary)}  |  sandbox counted {run.calls} calls")
    created = [r for r in rows if r.get("outcome") == "created"]
    linked = [r for r in rows if (r.get("ids") or {}).get("matched_by")]
    print(
        f"  {len(created)} new products published; {len(linked)} listings already on the store "
        f"were linked by SKU or UPC and left alone"
    )

    def n_variants(r: dict[str, Any]) -> int:
        return len((r.get("ids") or {}).get("variant_inventory_ids") or {})

    sample = [r for r in created if not n_variants(r)][:3] + [r for r in created if n_variants(r)][
        :3
    ]
    print(
        table(
            [
                {
                    "sku": r.get("key"),
                    "product_id": (r.get("ids") or {}).get("product_id"),
                    "variants": n_variants(r),
                }
                for r in sample
            ],
            ["sku", "product_id", "variants"],
        )
    )

    heading("4. sync-listings: the next day's feed demo/data/listings-changed.jsonl (link + sync)")
    run = run_job("sync-listings", env, server, logs)
    rows, summary = results(out / "results" / "sync.jsonl")
    counts = (summary.get("outcomes") or {}).get("listings") or {}
    writes = (summary.get("calls") or {}).get("writes", 0)
    print(f"  {outcome_line(summary)}")
    print(
        f"  only the {counts.get('updated', 0)} changed listings were written ({writes} writes); "
        f"the {counts.get('unchanged', 0)} unchanged ones cost no write"
    )
    changes = [
        {"sku": r.get("key"), "field": f, "old": c.get("old"), "new": c.get("new")}
        for r in rows
        if r.get("outcome") == "updated"
        for f, c in (r.get("changes") or {}).items()
    ]
    print(table(changes[:8], ["sku", "field", "old", "new"]))

    heading("5. push-tracking: demo/data/shipments.jsonl -> order shipments + shipped status")
    run = run_job("push-tracking", env, server, logs)
    rows, summary = results(out / "results" / "tracking.jsonl")
    print(f"  {outcome_line(summary)}")
    print(
        table(
            [
                {
                    "shipment": r.get("key"),
                    "order": (r.get("ids") or {}).get("order_id"),
                    "method": ((r.get("changes") or {}).get("shipping_method") or {}).get("new"),
                    "status": ((r.get("changes") or {}).get("order_status") or {}).get("new"),
                }
                for r in rows[:6]
            ],
            ["shipment", "order", "method", "status"],
        )
    )

    heading("6. extract-store again: only what changed since step 1")
    run = run_job("extract-store", env, server, logs)
    show_extract(run, db, tables, first=False)
    statuses = duck(
        db,
        "SELECT s.name, count(*) FROM cartcom.orders o JOIN cartcom.order_statuses"
        " s ON s.id = o.order_status_id GROUP BY 1 ORDER BY 2 DESC",
    )[0]
    print("  orders by status in the database: " + ", ".join(f"{name} {n}" for name, n in statuses))
    shipped = ",".join(
        str(int(r["order_id"])) for r in read_jsonl(ROOT / "demo" / "data" / "shipments.jsonl")
    )
    if shipped:
        rows = duck(
            db,
            "SELECT s.name, count(*) FROM cartcom.orders o JOIN cartcom.order_statuses"
            f" s ON s.id = o.order_status_id WHERE o.id IN ({shipped}) GROUP BY 1",
        )[0]
        print(
            "  the orders push-tracking shipped, as the database now has them: "
            + ", ".join(f"{name} {n}" for name, n in rows)
        )
    show_state(env)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo."""
    ap = argparse.ArgumentParser(prog="python demo/run_demo.py", description=__doc__)
    ap.add_argument("--products", type=int, default=PRODUCTS)
    ap.add_argument("--orders", type=int, default=ORDERS)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--api-only", action="store_true", help="the API tour only, no Meltano")
    args = ap.parse_args(argv)

    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "logs").mkdir(parents=True)
    db = WORK / "sandbox.db"
    say("cartcom demo: everything is written under .demo/ (rebuilt on each run)")
    if not args.api_only:
        ensure_plugins(WORK / "logs" / "meltano-install.log")
    seed(db, args.products, args.orders, args.seed)

    server = start_sandbox(db, "gold", window=DEMO_WINDOW_SECONDS)
    say(
        f"sandbox serving {server.base_url} on the gold plan (50 calls per window; window "
        f"{DEMO_WINDOW_SECONDS} s instead of Cart.com's 10 s, so the demo runs 10x faster)"
    )
    try:
        api, anon = Api(server.base_url, TOKEN), Api(server.base_url, None)
        api_tour(api, anon)
        pages_of_data(api)
        if not args.api_only:
            pipeline(server, api)
    finally:
        calls = len(server.calls)
        server.stop()
    say(f"sandbox stopped after {calls} API calls")
    burst(db)
    say("steel-plan sandbox stopped")
    print(
        f"\nDone in {time.monotonic() - _T0:.1f} s. Logs: .demo/logs/, outputs: .demo/output/",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
