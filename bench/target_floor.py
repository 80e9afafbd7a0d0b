"""The floors of bench_target's unchanged sync: the least any SDK target spends on it.

Two modes, each reading the input from stdin and fetching and decoding the same catalog pages
the current target reads, and doing nothing else (no validation, index, link, comparison or
results):

- ``bare``: the interpreter, ``import singer_sdk``, every input line decoded as the target's
  reader decodes it (msgspec, floats as ``Decimal``), then the pages.
- ``sdk``: an SDK target with the current target's line reader (``RecordReader``) and a batch
  sink without schema validation, like the listings sink, that fetches the pages once its
  batch is drained: the SDK's message loop and batching for every record are paid too.

Their CPU, set against the previous release's, bounds the ratio any rewrite of the target's own
hot path could reach. Run by bench_target.py: ``python bench/target_floor.py bare|sdk TOKEN
URL... < input.jsonl``.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

import msgspec
import requests
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.sinks import BatchSink
from typing_extensions import override


def fetch_catalog(token: str, urls: list[str] | tuple[str, ...]) -> None:
    """Fetch and decode each page; a page that is not a 200 with products in it fails."""
    decoder = msgspec.json.Decoder()
    with requests.Session() as session:
        for url in urls:
            response = session.get(url, headers={"X-AC-Auth-Token": token}, timeout=60)
            response.raise_for_status()
            if not decoder.decode(response.content).get("products"):
                raise RuntimeError(f"no products on {url}")


class FloorSink(BatchSink):
    """Keeps the batch (the SDK does) and reads the catalog once per batch; nothing more."""

    #: The token and the catalog page URLs, set from the command line.
    token = ""
    urls: tuple[str, ...] = ()

    @override
    def get_validator(self) -> None:
        """No schema validation, as the listings sink."""
        return

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        """Fetch and decode the catalog pages the current target reads."""
        fetch_catalog(self.token, self.urls)


class TargetFloor(Target):
    """The SDK's message loop around ``FloorSink``; ``main`` sets the current reader."""

    name = "target-floor"
    config_jsonschema = th.PropertiesList().to_dict()
    default_sink_class = FloorSink


def main() -> None:
    """``bare`` or ``sdk``, then the token and the page URLs; the input on stdin."""
    kind, token, *urls = sys.argv[1:]
    if kind == "bare":
        decoder = msgspec.json.Decoder(float_hook=Decimal)
        for line in sys.stdin.buffer:
            decoder.decode(line)
        fetch_catalog(token, urls)
        return
    # Imported here so that the bare floor does not pay for the target's package.
    from target_cartcom.reader import RecordReader

    TargetFloor.message_reader_class = RecordReader
    FloorSink.token, FloorSink.urls = token, tuple(urls)
    TargetFloor(config={}, parse_env_config=False).listen()


if __name__ == "__main__":
    main()
