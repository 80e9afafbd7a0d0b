"""Every use of a private Singer SDK (0.54) member by the tap, in one place, with its reason.

The tap otherwise leans on public hooks only: ``get_new_paginator``, ``get_http_request``,
``validate_response``, ``parse_response``, ``post_process`` and the ``backoff_*`` hooks. What
is left here has no public equivalent; check these on every SDK upgrade.

- ``RESTStream._request`` wrapped by ``request_decorator``: the SDK's own send-with-retries. The
  tap needs it for the extra reads a page triggers (batched addresses, the status list) so that
  they share the pacing, the retry loop and ``validate_response`` with the page reads.
- ``RESTStream._prepare_request``: builds a page's request from the paginator, used by the tap's
  prefetching ``request_records`` (one page read ahead while the current one is emitted).
- ``Stream._write_schema_message`` / ``_write_record_message``: an embedded child stream
  (order items, shipments, payments) is written from its parent's expanded record, with no call
  and without the SDK's per-parent child sync (which would resend SCHEMA and STATE per order).
- ``Stream._write_state_message``: windowed reads (Get Orders and the plain incremental mode)
  write a STATE after each page (every record of the page written before it, with the position
  reached), so a run killed mid-window resumes there without re-emitting.
- ``Stream._generate_record_messages`` (overridden in ``conform.CompiledConformance``, reading
  ``_mask``, ``_input_schema``, ``_stream_version`` and ``helpers._util.utc_now``): the SDK walks
  the schema twice per record (``pop_deselected_record_properties``, then
  ``conform_record_data_types``, 61 % + 7 % of the tap's CPU); ``tap_cartcom.conform`` compiles
  the same rules once per schema and selection (it reads ``helpers._typing``'s type predicates
  and ``helpers._catalog``'s pruning so the rules stay the SDK's). ``TYPE_CONFORMANCE_LEVEL``
  other than ``RECURSIVE`` falls back to the SDK's method.
- ``Stream._increment_stream_state`` (overridden in ``streams.incremental.WindowedStream``): a
  row read apart for having no replication-key value (null or ``""``) moves no bookmark anyway;
  the override only skips the SDK's "New replication value is null" warning, logged once per
  such row.
- ``PluginBase._validate_config``: overridden by ``cartcom_client.sdk.SecretSafeConfigValidation``
  (shared with the target) so a config error never echoes a secret's value.
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    import requests
    from singer_sdk import RESTStream, Stream
    from singer_sdk.pagination import BaseAPIPaginator


def send(stream: RESTStream, prepared: requests.PreparedRequest, context: dict | None) -> t.Any:
    """Send through the SDK's retry loop (``request_decorator`` around ``_request``)."""
    return stream.request_decorator(stream._request)(prepared, context)


def prepare_page(
    stream: RESTStream, context: dict | None, paginator: BaseAPIPaginator
) -> requests.PreparedRequest:
    """The prepared request for the paginator's current page."""
    return stream._prepare_request(context=context, page=paginator)


def write_schema(stream: Stream) -> None:
    """Send ``stream``'s SCHEMA message."""
    stream._write_schema_message()


def write_record(stream: Stream, record: dict[str, t.Any]) -> None:
    """Send one RECORD message for ``stream`` (stream maps applied by the SDK)."""
    stream._write_record_message(record)


def write_state(stream: Stream) -> None:
    """Send a STATE message now (the SDK otherwise writes it at its own checkpoints)."""
    stream._write_state_message()
