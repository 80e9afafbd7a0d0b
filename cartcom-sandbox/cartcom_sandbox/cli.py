"""``cartcom-sandbox serve|seed|probe``: run the emulator, build a store, or probe a live one."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import typing as t
from collections.abc import Sequence
from types import FrameType

from cartcom_store_probe import options as probe_options

from cartcom_sandbox.config import PLANS, SandboxConfig
from cartcom_sandbox.router import RouterUser, parse_users
from cartcom_sandbox.server import RouterServer, SandboxServer
from cartcom_sandbox.store import Store


def _serve_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("serve", help="serve the API over HTTP")
    p.add_argument(
        "--db", default=None, help="SQLite file (created if missing) or :memory: (required)"
    )
    p.add_argument(
        "--router",
        action="store_true",
        help="serve as Cart.com's Central API Router: many sites, X-AC-PUB-* signed headers "
        "instead of a token (needs --site and --pub-user; no --db)",
    )
    p.add_argument(
        "--site",
        action="append",
        default=[],
        dest="sites",
        metavar="SITE_ID=DB_PATH",
        help="router mode: a site and its SQLite store (repeatable)",
    )
    p.add_argument(
        "--pub-user",
        action="append",
        default=[],
        dest="pub_users",
        metavar="NAME:SECRET[@SITE,SITE]",
        help="router mode: a router user and its secret (repeatable), provisioned for the listed "
        "sites only, else for every site (INF); prefer --pub-user-env (a command line is "
        "visible to `ps`)",
    )
    p.add_argument(
        "--pub-user-env",
        action="append",
        default=[],
        dest="pub_user_envs",
        metavar="NAME=VAR[@SITE,SITE]",
        help="router mode: a router user whose secret is read from the environment variable VAR "
        "(repeatable; sites as for --pub-user)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8600)
    p.add_argument(
        "--token",
        action="append",
        dest="tokens",
        metavar="T",
        help="accepted X-AC-Auth-Token (repeatable; default: test-token); "
        "T:read_catalog,read_orders limits T to those scopes (default: all)",
    )
    p.add_argument(
        "--plan",
        choices=list(PLANS),
        default="steel",
        help="calls per window: steel 5, bronze 10, silver 20, gold 50 (default steel)",
    )
    p.add_argument("--calls", type=int, default=None, help="override the plan's calls per window")
    p.add_argument("--window", type=float, default=10.0, help="rate-limit window in seconds")
    p.add_argument("--max-count", type=int, default=1000, help="largest page size honoured")
    p.add_argument(
        "--count-over-max",
        choices=["cap", "error"],
        default="cap",
        help="a larger count is capped silently (default) or answered 400",
    )
    p.add_argument(
        "--empty-page-status",
        type=int,
        choices=[200, 404],
        default=200,
        help="status of an empty page 1 (default 200 with [])",
    )
    p.add_argument("--retry-after", choices=["seconds", "http-date"], default="seconds")
    p.add_argument("--max-url-length", type=int, default=SandboxConfig.max_url_length)
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=SandboxConfig.max_body_bytes,
        help="a request body over this many bytes gets 413 (default 4 MiB, ASP.NET's; INF)",
    )
    p.add_argument(
        "--timezone",
        default=None,
        help="store-local zone (default: the store's, else America/Chicago)",
    )
    p.add_argument(
        "--cache-seconds",
        type=float,
        default=0.0,
        help="serve repeated GETs stale for this long unless the request sends "
        "Cache-Control: no-cache (default 0: off)",
    )
    p.add_argument(
        "--external-images",
        choices=["keep", "rewrite"],
        default="keep",
        help="store a downloaded external picture URL as is (default) or as "
        "/shared/images/<basename>",
    )
    p.add_argument(
        "--no-shipment-items-in-order-expand",
        action="store_false",
        dest="shipment_items_in_order_expand",
        help="shipments nested under orders come without their items",
    )
    p.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="N",
        help="a real store's answer time: each call that counts against the call limit is "
        "answered N ms later (it counts when it arrives; default 0)",
    )
    p.add_argument(
        "--latency-ms-per-kb",
        type=float,
        default=0.0,
        metavar="M",
        help="and M ms more per KiB of the answer's body (default 0)",
    )
    p.add_argument(
        "--list-key",
        action="append",
        default=[],
        metavar="RESOURCE=KEY",
        help="override a list wrapper key, e.g. order_shipments=shipments",
    )
    p.add_argument(
        "--profile",
        metavar="REPORT",
        default=None,
        help="serve a store's dialect: apply every knob a `probe` report determines "
        "(options given explicitly win)",
    )
    return p


def _pub_values(argv: Sequence[str]) -> list[str]:
    """The command-line values that may hold a router secret.

    From the first ``--pu...`` option on (a typo such as ``--pub-users`` and an abbreviation are
    covered), every value that is not an option, and what follows ``=`` in an option: a secret
    with a space left unquoted spills into the next value.
    """
    start = next((i for i, arg in enumerate(argv) if arg.startswith("--pu")), len(argv))
    values = []
    for arg in argv[start:]:
        if arg.startswith("-"):
            values.append(arg.partition("=")[2])
        else:
            values.append(arg)
    return [v for v in values if v]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose error messages never echo a router user's secret."""

    hidden: tuple[str, ...] = ()

    def error(self, message: str) -> t.NoReturn:
        """argparse's error, with every value that may hold a secret replaced."""
        for value in sorted(self.hidden, key=len, reverse=True):
            message = message.replace(value, "<hidden>")
        super().error(message)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The CLI's argument parser (its errors hide the router secrets found in ``argv``)."""
    hidden = tuple(_pub_values(argv))
    parser_class = type("_RedactingParser", (_Parser,), {"hidden": hidden})
    parser = parser_class(
        prog="cartcom-sandbox", description="Local emulator of the Cart.com API v1."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    probe_options.add_parser(sub)
    sub.add_parser("seed", help="build a deterministic store (see `seed --help`)", add_help=False)
    return parser


#: An environment variable's name (``--pub-user-env NAME=VAR``).
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# serve options (dests) a profile may also set, and the SandboxConfig fields they stand for
_PROFILE_OPTIONS = {
    "max_count": "max_count",
    "count_over_max": "count_over_max",
    "empty_page_status": "empty_page_status",
    "max_url_length": "max_url_length",
    "calls": "rate_calls",
    "plan": "rate_calls",
    "latency_ms": "latency_ms",
}


def _explicit_fields(argv: Sequence[str]) -> set[str]:
    """Config fields whose serve option is on the command line (abbreviated or not)."""
    unset = object()  # not a string, so argparse does not convert it
    parser = argparse.ArgumentParser(add_help=False)
    _serve_parser(parser.add_subparsers(dest="command")).set_defaults(
        **dict.fromkeys(_PROFILE_OPTIONS, unset)
    )
    given = vars(parser.parse_args(argv))
    return {field for dest, field in _PROFILE_OPTIONS.items() if given.get(dest) is not unset}


def _apply_profile(config: SandboxConfig, path: str, argv: Sequence[str]) -> None:
    """Apply a probe report to ``config``; flags given explicitly keep their value."""
    from cartcom_sandbox.profile import load_report, profile_from  # noqa: PLC0415

    try:
        prof = profile_from(load_report(path))
    except ValueError as err:
        raise SystemExit(f"--profile: {err}") from None
    kept = _explicit_fields(argv)
    applied = []
    for key, value in prof.settings.items():
        if key in kept:
            print(f"profile: {key} kept from the command line", file=sys.stderr)
            continue
        if key == "list_keys":
            value = {**value, **config.list_keys}  # noqa: PLW2901 - --list-key wins
        setattr(config, key, value)
        applied.append(key)
    try:
        config.validate()
    except ValueError as err:
        raise SystemExit(f"--profile: {err}") from None
    for line in prof.applied:
        if line.split("=")[0].split(" ")[0] in applied:
            print(f"profile: applied {line}", file=sys.stderr)
    for line in prof.not_applied:
        print(f"profile: not applied: {line}", file=sys.stderr)


def serve(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    """Run the server until SIGINT/SIGTERM."""
    list_keys = {}
    for item in args.list_key:
        res, _, key = item.partition("=")
        if not key:
            raise SystemExit(f"--list-key needs RESOURCE=KEY, got {item!r}")
        list_keys[res] = key
    config = SandboxConfig(
        plan=args.plan,
        rate_calls=args.calls,
        rate_window=args.window,
        retry_after_format=args.retry_after,
        max_count=args.max_count,
        count_over_max=args.count_over_max,
        empty_page_status=args.empty_page_status,
        max_url_length=args.max_url_length,
        max_body_bytes=args.max_body_bytes,
        list_keys=list_keys,
        cache_seconds=args.cache_seconds,
        external_images=args.external_images,
        shipment_items_in_order_expand=args.shipment_items_in_order_expand,
        timezone=args.timezone or "America/Chicago",
        latency_ms=args.latency_ms,
        latency_ms_per_kb=args.latency_ms_per_kb,
    )
    try:
        config.validate()
    except ValueError as err:
        raise SystemExit(f"serve: {err}") from None
    if args.profile:
        _apply_profile(config, args.profile, argv)
    server: SandboxServer
    if args.router:
        server = _router_server(args, config)
        where = ", ".join(f"site {k}={v}" for k, v in _sites(args).items())
    else:
        if args.db is None or args.sites or args.pub_users or args.pub_user_envs:
            raise SystemExit("serve needs --db (or --router with --site and --pub-user)")
        store = Store(args.db, timezone=args.timezone)
        config.timezone = store.timezone
        server = SandboxServer(
            store,
            host=args.host,
            port=args.port,
            tokens=args.tokens or ["test-token"],
            config=config,
        )
        server._owns_store = True  # close the store on stop
        where = f"db={args.db}"

    def _stop(signum: int, frame: FrameType | None) -> None:
        server.request_stop()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    server._bind()
    print(server.base_url, flush=True)
    limit = config.calls_per_window()
    latency = f" latency={config.latency_ms:g}ms" if config.latency_ms else ""
    if config.latency_ms_per_kb:
        latency += f"+{config.latency_ms_per_kb:g}ms/KiB"
    print(
        f"plan={args.plan} limit={limit or 'unlimited'}/{args.window:g}s{latency} {where}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.stop()
    return 0


def _sites(args: argparse.Namespace) -> dict[str, str]:
    sites: dict[str, str] = {}
    for item in args.sites:
        site_id, sep, path = item.partition("=")
        if not sep or not site_id or not path:
            raise SystemExit(f"--site needs SITE_ID=DB_PATH, got {item!r}")
        if site_id in sites:
            raise SystemExit(f"--site: site {site_id} is given twice")
        sites[site_id] = path
    return sites


def _router_users(args: argparse.Namespace) -> dict[str, RouterUser]:
    """``--pub-user NAME:SECRET[@SITES]`` and ``--pub-user-env NAME=VAR[@SITES]`` (``$VAR``).

    A user given twice is an error naming the user; no message quotes a secret.
    """
    users = parse_users(args.pub_users) if args.pub_users else {}
    for number, item in enumerate(args.pub_user_envs, start=1):
        # Nothing of ``item`` is quoted until its variable holds a secret: a secret pasted in
        # place of the variable's name (or of the whole option) must not reach the terminal.
        which = f"--pub-user-env #{number}"
        name, sep, rest = item.partition("=")
        var, at, sites = rest.partition("@")
        if not sep or not name or not var:
            raise ValueError(f"{which} needs NAME=VAR[@SITE,SITE] (the value is not repeated)")
        if not _ENV_NAME.fullmatch(var):
            raise ValueError(
                f"{which}: after `=` comes the name of an environment variable (letters, digits, "
                "_), not the secret itself; the value is not repeated"
            )
        secret = os.environ.get(var, "")
        if not secret:
            raise ValueError(
                f"{which}: the environment variable it names is unset or empty (its name is not "
                "repeated, in case it is a secret pasted there)"
            )
        if name in users:
            raise ValueError(f"router user {name} is given twice")
        users[name] = parse_users({name: (secret, sites.split(",") if at else None)})[name]
    return users


def _router_server(args: argparse.Namespace, config: SandboxConfig) -> RouterServer:
    """Router mode: each site's own store and call budget; the users' secrets never printed."""
    if args.db is not None:
        raise SystemExit("--router serves --site stores; drop --db")
    paths = _sites(args)
    if not paths or not (args.pub_users or args.pub_user_envs):
        raise SystemExit(
            "--router needs at least one --site SITE_ID=DB_PATH and --pub-user (or --pub-user-env)"
        )
    try:
        users = _router_users(args)
    except ValueError as err:
        raise SystemExit(f"--pub-user: {err}") from None
    # Each store keeps its own time zone unless --timezone is given, as in single-store mode.
    sites = {k: Store(v, timezone=args.timezone) for k, v in paths.items()}
    try:
        server = RouterServer(
            sites,
            users,
            host=args.host,
            port=args.port,
            tokens=args.tokens or ["test-token"],
            config=config,
        )
    except ValueError as err:
        for store in sites.values():
            store.close()
        raise SystemExit(f"--router: {err}") from None
    for site in server.sites.values():
        site.owns_store = True  # close the stores on stop
    return server


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "seed":
        try:
            from cartcom_sandbox import seed  # noqa: PLC0415 - owned elsewhere, optional
        except ImportError as err:
            print(f"cartcom-sandbox seed is not available: {err}", file=sys.stderr)
            return 2
        return int(seed.main(argv[1:]) or 0)
    if argv and argv[0] == "probe" and probe_options.refuse_token_on_command_line(argv):
        return 2
    args = build_parser(argv).parse_args(argv)
    if args.command == "serve":
        return serve(args, argv)
    if args.command == "probe":
        # cartcom_store_probe talks through the shared client: loaded to probe, never to serve
        from cartcom_store_probe.cli import main as probe  # noqa: PLC0415

        return probe(args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
