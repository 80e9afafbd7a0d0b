"""The SDK's target test harness with curated ``.singer`` inputs (as MeltanoLabs/target-postgres).

The SDK's standard target tests feed generic streams (camelCase names, arrays, schema updates on
arbitrary tables...) that a target with fixed Cart.com streams rightly refuses, so they are left
out (``include_target_tests=False``) and replaced by curated inputs for the ``listings`` stream.
Each test runs against a fresh sandbox (the ``resource``) and checks what the store holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cartcom_testing.listing_scenarios import build_catalog
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.templates import TargetFileTestTemplate
from target_cartcom._client import ConfigurationError
from target_cartcom.target import FailedRecordsError, TargetCartcom

DATA = Path(__file__).parent / "data" / "listings"

#: Filled in by the ``resource`` fixture (the runner reads this same dict when it starts).
CONFIG: dict[str, Any] = {
    "access_token": "test-token",
    "api_url": "http://127.0.0.1:9/api/v1",
    "calls_per_window": 1000,
    "window_seconds": 1,
    "operations": ["link", "sync", "publish", "overwrite"],
}


class ListingsFileTest(TargetFileTestTemplate):
    """A curated listings input from tests/data/listings."""

    @property
    def singer_filepath(self) -> Path:
        """The ``.singer`` file of this test."""
        return DATA / f"{self.name}.singer"

    @property
    def store(self) -> Any:
        """The sandbox store behind this test."""
        return self.resource.store

    def results(self) -> list[dict[str, Any]]:
        """The per-record result lines of the run."""
        text = Path(CONFIG["results_path"]).read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line]

    def product(self, sku: str) -> dict[str, Any]:
        """The one product with ``sku``."""
        found = self.store.query("products", {"item_number": sku})
        assert len(found) == 1, found
        return found[0]


class PublishTest(ListingsFileTest):
    """A simple and a 3-variant listing are published; state is passed through."""

    name = "listings_publish"

    def validate(self) -> None:
        """Both products exist with their rows, brand, picture and categories."""
        tee = self.product("HARNESS-TEE")
        rows = self.store.query("variant_inventory", {"product_id": tee["id"]})
        assert sorted((r["item_number"], r["inventory"]) for r in rows) == [
            ("HARNESS-TEE-L", 9),
            ("HARNESS-TEE-M", 0),
            ("HARNESS-TEE-S", 4),
        ]
        assert self.store.get("manufacturers", tee["manufacturer_id"])["name"] == "Northwind"
        assert len(self.store.query("product_pictures", {"product_id": tee["id"]})) == 1
        assert self.product("HARNESS-MUG")["quantity_on_hand"] == 12
        assert self.runner.state_messages[-1] == {
            "bookmarks": {"listings": {"updated_at": "2024-05-01T00:00:00Z"}}
        }
        assert [r["outcome"] for r in self.results()[:-1]] == ["created", "created"]


class VariantPricesTest(ListingsFileTest):
    """One-option prices become surcharges on the values; Size x Colour prices, a price row."""

    name = "listings_variant_prices"

    def validate(self) -> None:
        """Each variant row sells at its listed price, priced where the docs say."""
        adj = self.product("HARNESS-ADJ")
        values = self.store.query("product_variants", {"product_id": adj["id"]})
        assert sorted((v["description"], v["price_adjustment"] or 0.0) for v in values) == [
            ("L", 3.0),
            ("M", 1.5),
            ("S", 0.0),
        ]
        assert self.store.query("product_pricing", {"product_id": adj["id"]}) == []
        pictures = self.store.query("product_pictures", {"product_id": adj["id"]})
        assert sorted((p["sort_order"], p["is_primary"]) for p in pictures) == [
            (1, True),
            (2, False),
        ]
        grid = self.product("HARNESS-GRID")
        pricing = self.store.query("product_pricing", {"product_id": grid["id"]})
        row = self.store.get("variant_inventory", pricing[0]["variant_inventory_id"])
        assert [(row["item_number"], p["price"]) for p in pricing] == [("HARNESS-GRID-M-RED", 22.0)]
        assert [r["outcome"] for r in self.results()[:-1]] == ["created", "created"]


class SyncSchemaChangeTest(ListingsFileTest):
    """A second SCHEMA message mid-stream (a new sink) keeps syncing with the same run state."""

    name = "listings_sync_schema_change"

    def validate(self) -> None:
        """Only the values the records change were written; the last state is emitted."""
        row = self.store.query("variant_inventory", {"item_number": "CAT-000001-S"})[0]
        assert row["inventory"] == 77
        assert self.product("CAT-000002")["price"] == 31.5
        row_m = self.store.query("variant_inventory", {"item_number": "CAT-000002-M"})[0]
        pricing = self.store.query("product_pricing", {"variant_inventory_id": row_m["id"]})
        assert [p["price"] for p in pricing] == [24.0]
        assert self.product("CAT-000003")["price"] == 99.0
        assert self.runner.state_messages[-1]["bookmarks"]["listings"]["updated_at"] == (
            "2024-05-02T10:00:00Z"
        )
        outcomes = [r["outcome"] for r in self.results()[:-1]]
        assert outcomes == ["updated", "updated", "updated"]


class BadRecordsTest(ListingsFileTest):
    """Bad records fail one by one; the good one is applied; the run then exits non-zero."""

    name = "listings_bad_records"

    def test(self) -> None:
        """The run raises only after every record was processed."""
        with pytest.raises(FailedRecordsError, match="5 record"):
            self.runner.sync_all()

    def validate(self) -> None:
        """Each failure names its field; the good record reached the store."""
        lines = self.results()
        assert [(r.get("key"), r["outcome"], r.get("field")) for r in lines[:-1]] == [
            (None, "failed", "sku"),
            ("CAT-000003", "failed", "quantity"),
            ("CAT-000004", "failed", "price"),
            ("CAT-000005", "failed", "gtin"),
            ("CAT-000001", "failed", "variants[1].options"),
            ("CAT-000002", "updated", None),
        ]
        assert (
            self.store.query("variant_inventory", {"item_number": "CAT-000002-L"})[0]["inventory"]
            == 55
        )
        assert lines[-1]["type"] == "summary"
        assert lines[-1]["failed"] == 5


class RecordBeforeSchemaTest(ListingsFileTest):
    """A RECORD before its SCHEMA is refused by the SDK."""

    name = "listings_record_before_schema"

    def test(self) -> None:
        """The SDK raises."""
        with pytest.raises(RecordsWithoutSchemaException):
            self.runner.sync_all()


class UnknownStreamTest(ListingsFileTest):
    """A stream the target does not handle stops the run with a message naming the streams."""

    name = "listings_unknown_stream"

    def test(self) -> None:
        """The target refuses the stream before calling the store."""
        with pytest.raises(ConfigurationError, match="listings"):
            self.runner.sync_all()

    def validate(self) -> None:
        """No call reached the store."""
        assert len(self.resource.calls) == 0


listings_suite = SingerTestSuite(
    kind="target",
    tests=[
        PublishTest,
        VariantPricesTest,
        SyncSchemaChangeTest,
        BadRecordsTest,
        RecordBeforeSchemaTest,
        UnknownStreamTest,
    ],
)

BaseTargetCartcomTest = get_target_test_class(
    TargetCartcom,
    config=CONFIG,
    custom_suites=[listings_suite],
    include_target_tests=False,
    parse_env_config=False,
)


class TestTargetCartcomListings(BaseTargetCartcomTest):
    """The harness, each test against a fresh sandbox holding a small catalog."""

    @pytest.fixture
    def resource(self, sandbox: Any, tmp_path: Path) -> Any:
        """A sandbox with reference data and five catalog products; the config points at it."""
        build_catalog(sandbox.store, 5)
        sandbox.store.insert("categories", {"name": "Shirts", "parent_category_id": 1})
        CONFIG["api_url"] = sandbox.base_url
        CONFIG["access_token"] = sandbox.token
        CONFIG["results_path"] = str(tmp_path / "results.jsonl")
        return sandbox
