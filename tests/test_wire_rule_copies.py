"""The emulator's copies of the client's wire rules agree with the client.

The sandbox must not import the code it tests, so it keeps its own copy of a few rules whose
reference lives in cartcom-client/cartcom_client (each copy says so in a comment): the GS1
check digit, the URL cap, the plans' call limits and the filter operators. A copy that drifts
would let the emulator and the connectors agree on the wrong thing, or disagree silently.
"""

from __future__ import annotations

import random

from cartcom_client import gtin as client_gtin
from cartcom_client import query as client_query
from cartcom_client.settings import PLANS as CLIENT_PLANS
from cartcom_client.urls import MAX_URL_LENGTH
from cartcom_sandbox import cli as sandbox_cli
from cartcom_sandbox import query as sandbox_query
from cartcom_sandbox.config import PLANS as SANDBOX_PLANS
from cartcom_sandbox.config import SandboxConfig
from cartcom_sandbox.seeding import gtin as sandbox_gtin
from cartcom_store_probe import STEEL_CALLS


def _digit_strings(count: int, lengths: range, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        "".join(rng.choice("0123456789") for _ in range(rng.choice(lengths))) for _ in range(count)
    ]


def test_gtin_check_digit_and_validity_agree() -> None:
    """Every body gets the same check digit; every digit string the same verdict."""
    bodies = [*_digit_strings(5000, range(7, 14), seed=24), "0" * 11, "9" * 12, "400638133393"]
    assert [sandbox_gtin.check_digit(b) for b in bodies] == [
        client_gtin.check_digit(b) for b in bodies
    ]
    codes = _digit_strings(5000, range(6, 16), seed=25)
    codes += [b + client_gtin.check_digit(b) for b in bodies]  # valid ones of every length
    assert [sandbox_gtin.is_valid_gtin(c) for c in codes] == [
        client_gtin.is_valid_gtin(c) for c in codes
    ]
    allocator = sandbox_gtin.GtinAllocator()
    seeded = [allocator.next(brand, ean) for brand in (1, 42, 999) for ean in (0, 1) * 50]
    assert all(client_gtin.is_valid_gtin(code) for code in seeded)


def test_url_cap_is_the_clients() -> None:
    """The sandbox refuses a URL over the cap the client chunks its reads to (docs/api.md §14)."""
    assert SandboxConfig().max_url_length == MAX_URL_LENGTH
    args = sandbox_cli.build_parser().parse_args(["serve", "--db", "x.db"])
    assert args.max_url_length == MAX_URL_LENGTH


def test_plans_are_the_clients() -> None:
    """Each plan's calls per window, in the emulator and in the probe's default pace."""
    assert {k: v for k, v in SANDBOX_PLANS.items() if v is not None} == CLIENT_PLANS
    assert CLIENT_PLANS["steel"] == STEEL_CALLS


def test_filter_operators_are_the_clients() -> None:
    """The parser reads exactly the operators the client's encoder knows (docs/api.md §1.5)."""
    assert set(sandbox_query.OPERATORS) == set(client_query.OPERATORS)
    for operator in client_query.OPERATORS:
        assert sandbox_query._TERM.match(f"{operator}:x"), operator


def test_webhook_vocabulary_agrees() -> None:
    """The event and failure types the sandbox accepts are the ones the stores file may name."""
    from cartcom_client import webhooks as client_webhooks
    from cartcom_sandbox import scopes as sandbox_scopes
    from cartcom_sandbox import webhooks as sandbox_webhooks

    assert sandbox_webhooks.EVENT_TYPES == client_webhooks.EVENT_TYPES
    assert sandbox_webhooks.FAILURE_TYPES == client_webhooks.FAILURE_TYPES
    assert set(sandbox_scopes.EVENT_SCOPE) == set(client_webhooks.EVENT_TYPES)
