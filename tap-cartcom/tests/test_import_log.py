"""tap-cartcom-import-log: each line of the Get Orders import log is emitted once, in order.

The tap runs in-process on a real file; each test checks the records emitted against the lines
written, and every STATE message against the lines emitted before it (a run stopped after any
STATE resumes after exactly the lines that state covers).
"""

from __future__ import annotations

import io
import json
import logging
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from tap_cartcom.import_log import TapImportLog


def order(order_id: int) -> dict[str, Any]:
    """A line as target-jsonl writes an imported order (a money value with a trailing 0)."""
    return {
        "id": order_id,
        "created_at": f"2026-05-01T10:{order_id % 60:02d}:00.000000Z",
        "grand_total": 10.5,
        "order_status_last_changed_at": None,
    }


def append(path: Path, *ids: int, raw: str = "") -> None:
    """Append the lines of ``ids`` (then ``raw`` as it is), as target-jsonl appends."""
    with path.open("a", encoding="utf-8") as fh:
        fh.writelines(json.dumps(order(i)) + "\n" for i in ids)
        fh.write(raw)


def run(path: Path, state: dict | None = None) -> tuple[list[int], list[dict], dict | None]:
    """One run: the ids emitted, every message, and the last STATE's value."""
    out = io.StringIO()
    with redirect_stdout(out):
        TapImportLog(config={"path": str(path)}, state=state, parse_env_config=False).sync_all()
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    ids = [m["record"]["id"] for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return ids, messages, states[-1] if states else None


def test_each_run_emits_only_the_lines_appended_since_the_last(tmp_path: Path) -> None:
    """Three runs over a growing log: the first run's lines, then only the new ones, then none."""
    log = tmp_path / "orders.jsonl"
    append(log, 1, 2, 3)
    ids, _, state = run(log)
    assert ids == [1, 2, 3]
    append(log, 4, 5)
    ids, _, state = run(log, state)
    assert ids == [4, 5]
    before = state
    ids, _, state = run(log, state)
    assert ids == []
    assert state == before
    assert state["bookmarks"]["orders"]["position"] == log.stat().st_size


def test_records_are_the_lines_as_written(tmp_path: Path) -> None:
    """What target-jsonl wrote reaches the target unchanged (10.50 stays 10.50, nulls stay)."""
    log = tmp_path / "orders.jsonl"
    log.write_text('{"id": 7, "grand_total": 10.50, "order_status_last_changed_at": null}\n')
    out = io.StringIO()
    with redirect_stdout(out):
        TapImportLog(config={"path": str(log)}, parse_env_config=False).sync_all()
    records = [line for line in out.getvalue().splitlines() if '"type":"RECORD"' in line]
    assert len(records) == 1
    assert json.loads(records[0])["stream"] == "orders"
    assert '"record":{"id":7,"grand_total":10.50,"order_status_last_changed_at":null}' in records[0]


def test_every_state_covers_only_lines_already_emitted(tmp_path: Path) -> None:
    """A run stopped after any STATE resumes after exactly the lines emitted before it."""
    log = tmp_path / "orders.jsonl"
    append(log, *range(1, 25_001))  # past the SDK's 10,000 records between STATEs
    _, messages, _ = run(log)
    emitted: list[int] = []
    checked = 0
    for message in messages:
        if message["type"] == "RECORD":
            emitted.append(message["record"]["id"])
        elif message["type"] == "STATE" and message["value"].get("bookmarks"):
            rest, _, _ = run(log, message["value"])
            assert emitted + rest == list(range(1, 25_001))
            checked += 1
    assert checked >= 3  # two in the run, one at its end


def test_a_line_still_being_written_waits_for_the_next_run(tmp_path: Path) -> None:
    """A last line without its newline is not emitted, and not skipped: the next run has it."""
    log = tmp_path / "orders.jsonl"
    append(log, 1, raw='{"id": 2, "created_at": "2026-05-01T10:0')
    ids, _, state = run(log)
    assert ids == [1]
    with log.open("a") as fh:
        fh.write('2:00.000000Z"}\n')
    append(log, 3)
    ids, _, _ = run(log, state)
    assert ids == [2, 3]


def test_a_line_that_is_not_an_object_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad lines are named in the log and passed over; the lines after them go through."""
    log = tmp_path / "orders.jsonl"
    append(log, 1, raw="not json\n[1, 2]\n\n")
    append(log, 2)
    with caplog.at_level(logging.WARNING):
        ids, _, state = run(log)
    assert ids == [1, 2]
    skipped = [r.getMessage() for r in caplog.records if "Skipped the line" in r.getMessage()]
    assert len(skipped) == 2
    assert "not JSON" in skipped[0]
    assert "a JSON list, not an object" in skipped[1]
    assert run(log, state)[0] == []


@pytest.mark.parametrize("how", ["rotated", "rewritten", "shorter"])
def test_a_replaced_log_is_read_from_its_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    """A log that is not the one the state was taken on is read whole, with a warning."""
    log = tmp_path / "orders.jsonl"
    append(log, 1, 2, 3)
    _, _, state = run(log)
    if how == "rotated":  # moved away; target-jsonl starts a new file
        log.rename(tmp_path / "orders-2026-05.jsonl")
        append(log, 4, 5, 6, 7)
    elif how == "rewritten":  # same length up to the position, other lines
        log.unlink()
        append(log, 11, 12, 13, 14)
    else:
        log.unlink()
        append(log, 4)
    with caplog.at_level(logging.WARNING):
        ids, _, _ = run(log, state)
    assert ids == {"rotated": [4, 5, 6, 7], "rewritten": [11, 12, 13, 14], "shorter": [4]}[how]
    assert any("reading it from its start" in r.getMessage() for r in caplog.records)


def test_no_log_yet_emits_nothing_and_keeps_the_state(tmp_path: Path) -> None:
    """Before the first import there is no file: nothing to read, and the state stays."""
    log = tmp_path / "orders.jsonl"
    ids, _, state = run(log)
    assert ids == []
    append(log, 1)
    assert run(log, state)[0] == [1]


def test_state_of_the_former_tap_jsonl_reads_the_log_once(tmp_path: Path) -> None:
    """Upgrading from tap-jsonl (a per-file mtime, no position): one full read, then the tail."""
    log = tmp_path / "orders.jsonl"
    append(log, 1, 2)
    former = {
        "bookmarks": {
            "orders": {
                "partitions": [
                    {
                        "context": {"_sdc_filename": str(log), "_sdc_stream": "orders"},
                        "replication_key": "_sdc_last_modified",
                        "replication_key_value": "2026-05-01T10:00:00+00:00",
                    }
                ]
            }
        }
    }
    ids, _, state = run(log, former)
    assert ids == [1, 2]
    append(log, 3)
    assert run(log, state)[0] == [3]
