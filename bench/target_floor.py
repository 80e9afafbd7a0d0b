"""The floor of bench_target's unchanged sync: the least any SDK target spends on it.

A target on the SDK with the current target's line reader (``RecordReader``, msgspec) and a
batch sink without schema validation, like the listings sink, that fetches and decodes the
same catalog pages once its batch is drained, and does nothing else: no validation, index,
link, comparison or results. Its CPU, set against the previous release's, bounds the ratio any
rewrite of the target's own hot path could reach.

Run by bench_target.py: ``python bench/target_floor.py TOKEN URL... < input.jsonl``.
"""

from __future__ import annotations

import sys
from typing import Any

import msgspec
import requests
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.sinks import BatchSink
from target_cartcom.reader import RecordReader
from typing_extensions import override


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
        """Fetch and decode the catalog pages the current target reads; each must hold rows."""
        decoder = msgspec.json.Decoder()
        with requests.Session() as session:
            for url in self.urls:
                response = session.get(url, headers={"X-AC-Auth-Token": self.token}, timeout=60)
                response.raise_for_status()
                if not decoder.decode(response.content).get("products"):
                    raise RuntimeError(f"no products on {url}")


class TargetFloor(Target):
    """The SDK's message loop around ``FloorSink``."""

    name = "target-floor"
    config_jsonschema = th.PropertiesList().to_dict()
    default_sink_class = FloorSink
    message_reader_class = RecordReader


def main() -> None:
    """Read the input from stdin; the token and page URLs come as arguments."""
    FloorSink.token, *urls = sys.argv[1:]
    FloorSink.urls = tuple(urls)
    TargetFloor(config={}, parse_env_config=False).listen()


if __name__ == "__main__":
    main()
