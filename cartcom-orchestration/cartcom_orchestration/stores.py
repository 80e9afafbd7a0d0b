"""The stores file: which Cart.com stores to run, how each one connects, and which jobs it runs.

Secrets never live in the file: an entry names the environment variables that hold them
(``token_env``, ``router.user_name_env``, ``router.user_secret_env``). Every error names the file,
the entry and the field to fix.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from cartcom_orchestration._client.urls import is_loopback_host
from cartcom_orchestration.webhook_settings import (
    StoreWebhooks,
    WebhookDefaults,
    parse_defaults,
    parse_store,
)

STORES_FILE_VAR = "CARTCOM_STORES_FILE"
PLANS = ("steel", "bronze", "silver", "gold")
# Matched whole (``fullmatch``): with ``match`` and ``$``, a trailing newline would pass.
_NAME = re.compile(r"[a-z0-9_]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?")
_ENTRY_FIELDS = (
    "name",
    "domain",
    "api_url",
    "token_env",
    "router",
    "plan",
    "jobs",
    "env",
    "webhooks",
)
_ROUTER_FIELDS = ("site_id", "user_name_env", "user_secret_env")
_TOP_FIELDS = (
    "stores",
    "environment",
    "output_dir",
    "work_dir",
    "retries",
    "schedules",
    "webhooks",
)
#: Settings the orchestration sets from the entry's fields; an entry's ``env`` may not set them.
CONNECTION_SETTINGS = (
    "API_URL",
    "DOMAIN",
    "ACCESS_TOKEN",
    "PLAN",
    "AUTH_TYPE",
    "USER_NAME",
    "USER_SECRET",
    "SITE_ID",
    "ROUTER_URL",
)
#: The call budget's settings: it comes from ``plan``, one budget per store. ``env`` may set them
#: only for a store on a loopback ``api_url`` (a local sandbox, whose window the test chooses).
BUDGET_SETTINGS = ("CALLS_PER_WINDOW", "WINDOW_SECONDS")


class StoresFileError(ValueError):
    """The stores file is missing or malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class Router:
    """Central API Router credentials: a site id, and the variables holding user and secret."""

    site_id: str
    user_name_env: str
    user_secret_env: str


@dataclass(frozen=True)
class Store:
    """One Cart.com store."""

    name: str
    plan: str
    jobs: tuple[str, ...]
    #: The store's own domain; for a router store only a label (its calls go to the router).
    domain: str | None = None
    #: The API base URL; for a router store, the router's (default: Cart.com's public router).
    api_url: str | None = None
    token_env: str | None = None
    router: Router | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    #: Its webhook subscriptions (webhook_settings.py); None: it wants none.
    webhooks: StoreWebhooks | None = None

    @property
    def secret_vars(self) -> tuple[str, ...]:
        """The environment variables this store's secrets come from.

        Its webhook secret too: no Meltano run is given it.
        """
        hook = (self.webhooks.secret_env,) if self.webhooks is not None else ()
        if self.router is not None:
            return (self.router.user_name_env, self.router.user_secret_env, *hook)
        return ((self.token_env,) if self.token_env else ()) + hook


@dataclass(frozen=True)
class Retries:
    """Retry policy of every store job (transient failures only)."""

    max_retries: int = 3
    delay_seconds: float = 60.0


@dataclass(frozen=True)
class StoresConfig:
    """The whole stores file."""

    path: Path
    stores: tuple[Store, ...]
    environment: str | None = None
    output_dir: Path | None = None
    work_dir: Path | None = None
    retries: Retries = Retries()
    schedules_running: bool = False
    #: Where the webhook receiver listens, and the default events (None: no webhooks).
    webhooks: WebhookDefaults | None = None


def default_path(project_root: Path) -> Path:
    """``$CARTCOM_STORES_FILE``, else ``stores.yml`` beside meltano.yml."""
    value = os.environ.get(STORES_FILE_VAR)
    return Path(value).expanduser() if value else project_root / "stores.yml"


class _Where:
    """Builds error messages: ``stores.yml: stores[2] (beta), `plan`: ...``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, msg: str) -> StoresFileError:
        return StoresFileError(f"{self.path}: {where}: {msg}")


def _env_var(w: _Where, where: str, value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise w.fail(where, f"must be the name of an environment variable, got {value!r}")
    return value


def _entry(w: _Where, i: int, raw: Any, jobs: Mapping[str, Any]) -> Store:
    where = f"stores[{i}]"
    if not isinstance(raw, Mapping):
        raise w.fail(
            where, "must be a mapping with name, domain or api_url, token_env or router, plan"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise w.fail(f"{where}, `name`", f"must match [a-z0-9_]+, got {name!r}")
    where = f"{where} ({name})"
    for key in raw:
        if key not in _ENTRY_FIELDS:
            hint = (
                " (put the token in an environment variable and name it in `token_env`)"
                if "token" in str(key)
                else ""
            )
            raise w.fail(
                f"{where}, `{key}`",
                f"unknown field{hint}; fields: {', '.join(_ENTRY_FIELDS)}",
            )
    domain, api_url = raw.get("domain"), raw.get("api_url")
    if domain is not None and api_url is not None:
        raise w.fail(f"{where}, `domain`/`api_url`", "give exactly one of them")
    if domain is None and api_url is None and raw.get("router") is None:
        # A router store needs neither: `site_id` chooses it, `api_url` overrides the router.
        raise w.fail(f"{where}, `domain`/`api_url`", "give exactly one of them")
    if domain is not None and (
        not isinstance(domain, str) or not _HOST.fullmatch(domain) or not _good_port(domain)
    ):
        raise w.fail(
            f"{where}, `domain`",
            f"must be a host name such as storename.americommerce.com, got {domain!r}",
        )
    if api_url is not None:
        parts = urlsplit(api_url) if isinstance(api_url, str) else None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or not _good_port(parts)
        ):
            raise w.fail(f"{where}, `api_url`", f"must be an http(s) URL, got {api_url!r}")
    token_env, router_raw = raw.get("token_env"), raw.get("router")
    if (token_env is None) == (router_raw is None):
        raise w.fail(f"{where}, `token_env`/`router`", "give exactly one of them")
    router = None
    if token_env is not None:
        _env_var(w, f"{where}, `token_env`", token_env)
    else:
        if not isinstance(router_raw, Mapping):
            raise w.fail(
                f"{where}, `router`", "must be a mapping {site_id, user_name_env, user_secret_env}"
            )
        for key in router_raw:
            if key not in _ROUTER_FIELDS:
                raise w.fail(
                    f"{where}, `router.{key}`",
                    f"unknown field; fields: {', '.join(_ROUTER_FIELDS)}",
                )
        for key in _ROUTER_FIELDS:
            if router_raw.get(key) in (None, ""):
                raise w.fail(f"{where}, `router.{key}`", "is required")
        site_id = router_raw["site_id"]
        if isinstance(site_id, bool) or not isinstance(site_id, int | str):
            raise w.fail(
                f"{where}, `router.site_id`", f"must be the store's site id, got {site_id!r}"
            )
        router = Router(
            site_id=str(site_id),
            user_name_env=_env_var(
                w, f"{where}, `router.user_name_env`", router_raw["user_name_env"]
            ),
            user_secret_env=_env_var(
                w, f"{where}, `router.user_secret_env`", router_raw["user_secret_env"]
            ),
        )
    plan = raw.get("plan")
    if plan not in PLANS:
        raise w.fail(f"{where}, `plan`", f"must be one of {', '.join(PLANS)}, got {plan!r}")
    selected = raw.get("jobs")
    if selected is None:
        selected = list(jobs)
    if not isinstance(selected, list) or not selected:
        raise w.fail(f"{where}, `jobs`", "must be a non-empty list of Meltano jobs")
    for job in selected:
        if not isinstance(job, str):
            raise w.fail(f"{where}, `jobs`", f"must list job names, got {job!r}")
        if job not in jobs:
            raise w.fail(
                f"{where}, `jobs`",
                f"{job!r} is not a job of meltano.yml (its jobs: {', '.join(jobs)})",
            )
    if len(set(selected)) != len(selected):
        raise w.fail(f"{where}, `jobs`", "lists a job twice")
    env_raw = raw.get("env") or {}
    if not isinstance(env_raw, Mapping):
        raise w.fail(f"{where}, `env`", "must be a mapping VARIABLE: value")
    env: dict[str, str] = {}
    for key, value in env_raw.items():
        _env_var(w, f"{where}, `env`", key)
        upper = key.upper()
        if any(upper.endswith("_" + s) for s in CONNECTION_SETTINGS):
            raise w.fail(
                f"{where}, `env.{key}`",
                "connection settings come from the entry's fields (domain, api_url, token_env, "
                "router, plan), not from `env`",
            )
        if any(upper.endswith("_" + s) for s in BUDGET_SETTINGS) and not _loopback(api_url):
            raise w.fail(
                f"{where}, `env.{key}`",
                "the call budget comes from `plan` (one budget per store), not from `env`; "
                "only a store on a loopback `api_url` (a local sandbox) may set it",
            )
        if upper.startswith("MELTANO_"):
            raise w.fail(
                f"{where}, `env.{key}`",
                "Meltano's settings are the orchestration's (each store's system folder, "
                "environment and database), not a store's",
            )
        if isinstance(value, Mapping | list) or value is None:
            raise w.fail(f"{where}, `env.{key}`", "must be a string or a number")
        env[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return Store(
        name=name,
        plan=plan,
        jobs=tuple(selected),
        domain=domain,
        api_url=api_url,
        token_env=token_env,
        router=router,
        env=env,
        webhooks=parse_store(w.fail, where, raw.get("webhooks")),
    )


def _retries(w: _Where, raw: Any) -> Retries:
    if raw is None:
        return Retries()
    if not isinstance(raw, Mapping) or set(raw) - {"max_retries", "delay_seconds"}:
        raise w.fail("`retries`", "must be a mapping {max_retries, delay_seconds}")
    max_retries = raw.get("max_retries", Retries.max_retries)
    delay = raw.get("delay_seconds", Retries.delay_seconds)
    if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
        raise w.fail("`retries.max_retries`", f"must be a whole number >= 0, got {max_retries!r}")
    if (
        not isinstance(delay, int | float)
        or isinstance(delay, bool)
        or not math.isfinite(delay)
        or delay < 0
    ):
        raise w.fail("`retries.delay_seconds`", f"must be a number >= 0, got {delay!r}")
    return Retries(max_retries, float(delay))


def _good_port(where: Any) -> bool:
    """No port, or one from 1 to 65535: in a ``host[:port]`` text or a split URL."""
    if isinstance(where, str):
        port = where.partition(":")[2]
        return not port or 0 < int(port) < 65536
    try:
        return where.port is None or where.port > 0
    except ValueError:
        return False


def _loopback(api_url: Any) -> bool:
    """Whether ``api_url`` is on this machine (a local sandbox, never a Cart.com store)."""
    host = urlsplit(api_url).hostname if isinstance(api_url, str) else None
    return host is not None and is_loopback_host(host)


def _address(url: str) -> str:
    """Where ``url``'s API is: host, port (the scheme's default when none) and path."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}{parts.path.rstrip('/')}"


def _one_entry_per_store(w: _Where, stores: tuple[Store, ...]) -> None:
    """Refuse one store listed twice (same domain, API address or router site id).

    Each entry gets its own Dagster pool, so two entries for one store would let two runs share
    its call budget at once.
    """
    first: dict[tuple[str, str], tuple[int, str]] = {}

    def once(i: int, store: Store, key: tuple[str, str], field_name: str) -> None:
        if key in first:
            j, other = first[key]
            raise w.fail(
                f"stores[{i}] ({store.name}), `{field_name}`",
                f"the same store as stores[{j}] ({other}): list each store once (two entries "
                "get two pools, so two runs could share its call budget at once)",
            )
        first[key] = (i, store.name)

    for i, store in enumerate(stores):
        if store.domain is not None:
            once(i, store, ("domain", store.domain.partition(":")[0].lower()), "domain")
        if store.router is not None:
            router = _address(store.api_url) if store.api_url else ""
            once(i, store, ("site", f"{router} {store.router.site_id}"), "router.site_id")
        else:
            url = store.api_url or f"https://{store.domain}/api/v1"
            once(i, store, ("api", _address(url)), "api_url" if store.api_url else "domain")


def load_stores(path: Path, jobs: Mapping[str, Any]) -> StoresConfig:
    """Read and check the stores file; ``jobs`` are meltano.yml's jobs."""
    w = _Where(path)
    if not path.is_file():
        msg = (
            f"No stores file at {path}. Copy stores.example.yml to stores.yml beside meltano.yml "
            f"and list your stores, or point {STORES_FILE_VAR} at your file."
        )
        raise StoresFileError(msg)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        msg = f"{path}: not valid YAML: {err}"
        raise StoresFileError(msg) from err
    if not isinstance(doc, Mapping) or not isinstance(doc.get("stores"), list) or not doc["stores"]:
        raise w.fail("`stores`", "the file must hold `stores:`, a non-empty list of stores")
    for key in doc:
        if key not in _TOP_FIELDS:
            raise w.fail(f"`{key}`", f"unknown field; fields: {', '.join(_TOP_FIELDS)}")
    stores = tuple(_entry(w, i, raw, jobs) for i, raw in enumerate(doc["stores"]))
    seen: set[str] = set()
    for i, store in enumerate(stores):
        if store.name in seen:
            raise w.fail(f"stores[{i}] ({store.name}), `name`", "is used by another store")
        seen.add(store.name)
    _one_entry_per_store(w, stores)
    webhooks = parse_defaults(w.fail, doc.get("webhooks"))
    for i, store in enumerate(stores):
        if store.webhooks is not None and webhooks is None:
            raise w.fail(
                f"stores[{i}] ({store.name}), `webhooks`",
                "needs the top-level `webhooks.receiver_url` (where the receiver listens)",
            )
    schedules = doc.get("schedules", "stopped")
    if schedules not in ("running", "stopped"):
        raise w.fail("`schedules`", f"must be running or stopped, got {schedules!r}")
    environment = doc.get("environment")
    if environment is not None and not isinstance(environment, str):
        raise w.fail("`environment`", "must be the name of a Meltano environment")

    def folder(key: str) -> Path | None:
        value = doc.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise w.fail(f"`{key}`", "must be a folder path")
        p = Path(value).expanduser()
        return p if p.is_absolute() else path.parent / p

    return StoresConfig(
        path=path,
        stores=stores,
        environment=environment,
        output_dir=folder("output_dir"),
        work_dir=folder("work_dir"),
        retries=_retries(w, doc.get("retries")),
        schedules_running=schedules == "running",
        webhooks=webhooks,
    )
