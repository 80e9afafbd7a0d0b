"""The products full-feed mode hid, kept in a file between runs (``full_feed_hidden_path``).

Cart.com has no field that says who hid a product (``is_discontinued`` and the custom flags are
the merchant's, variant rows have no hidden flag), and a Singer target keeps no state of its own.
So ``hide`` notes in this file each product it hides, before hiding it, and shows again only the
products noted here. Every failure mode is the safe one: no setting, no file or a lost file means
nothing is shown again; a file of another store or an unreadable one stops full-feed mode.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from target_cartcom._client import ConfigurationError

SETTING = "full_feed_hidden_path"


class HiddenFile:
    """Product id -> SKU of each product full-feed mode hid and that is still hidden."""

    def __init__(self, path: str | None, store: str) -> None:
        """Read ``path`` (nothing when None or absent); ``store`` names the store it is for."""
        self.path = Path(path) if path else None
        self.store = store
        self.products: dict[int, str] = {}
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            owner = data["store"]
            products = {int(pid): str(sku) for pid, sku in data["products"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            msg = (
                f"`{SETTING}` ({self.path}) is not a file full-feed mode wrote "
                f"({type(exc).__name__}); fix or remove it (removing it means the products it "
                "hid are not shown again)."
            )
            raise ConfigurationError(msg) from None
        if owner != store:
            msg = (
                f"`{SETTING}` ({self.path}) belongs to another store ({owner}); "
                "give each store its own file."
            )
            raise ConfigurationError(msg)
        self.products = products

    @property
    def kept(self) -> bool:
        """Whether the file is set, i.e. hidden products can be shown again."""
        return self.path is not None

    def __contains__(self, product_id: int) -> bool:
        """Whether full-feed mode hid this product."""
        return product_id in self.products

    def save(self) -> None:
        """Write the file whole (a new file, then renamed over the old one)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "store": self.store,
            "products": {str(pid): sku for pid, sku in sorted(self.products.items())},
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
