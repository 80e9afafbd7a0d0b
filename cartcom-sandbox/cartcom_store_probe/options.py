"""The ``probe`` subcommand's options, and the refusal of a token typed on the command line.

Kept apart from the run (``cli.py``) so that ``cartcom-sandbox`` builds its parser without
loading the shared client: serving never needs it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cartcom_store_probe import STEEL_CALLS, STEEL_WINDOW


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``probe`` subcommand's options."""
    p = sub.add_parser(
        "probe",
        allow_abbrev=False,  # "--token X" must never be read as "--token-env X"
        help="read a live store's API dialect (GET only, at most 30 calls) into a report",
        description="Read-only probe of a Cart.com store. The token is read from an "
        "environment variable, never from the command line.",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--domain", help="the store's domain, e.g. shop.example.com (https)")
    where.add_argument("--api-url", help="the API base URL (https; http only for a loopback host)")
    p.add_argument(
        "--token-env",
        required=True,
        metavar="NAME",
        help="environment variable that holds the X-AC-Auth-Token",
    )
    p.add_argument("--out", required=True, type=Path, help="where to write report.json")
    p.add_argument(
        "--calls-per-window",
        type=int,
        default=STEEL_CALLS,
        help=f"pace: calls per window (default {STEEL_CALLS}, the Steel plan)",
    )
    p.add_argument(
        "--window",
        type=float,
        default=STEEL_WINDOW,
        help=f"pace: window in seconds (default {STEEL_WINDOW:g})",
    )


def refuse_token_on_command_line(argv: Sequence[str]) -> bool:
    """True (and a message that does not echo it) when a token was put on the command line."""
    if any(a == "--token" or a.startswith("--token=") for a in argv):
        print(
            "probe: a token is never given on the command line; put it in an environment "
            "variable and pass that variable's name with --token-env",
            file=sys.stderr,
        )
        return True
    return False
