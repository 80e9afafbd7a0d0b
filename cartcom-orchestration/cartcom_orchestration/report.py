"""What one ``meltano run`` did: its JSON log's metrics and errors, the target's results summaries.

Dagster shows the report as the run's metadata; ``permanent`` tells the retry policy whether
another try could help.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: An error that another try cannot fix (credentials, settings, a refused call).
_PERMANENT = re.compile(
    r"answered 40[0134] |check the `\w+` setting|ConfigurationError|Set `\w+`|"
    r"is not set|ConfigValidationError|not installed"
)


#: Meltano's own summary lines, less telling than the plugin's message that caused them.
_GENERIC = ("Extractor failed", "Loader failed", "Mappers failed", "Run completed")


@dataclass
class RunReport:
    """What one ``meltano run`` did, from its JSON log and the target's results files."""

    returncode: int
    records: dict[str, int] = field(default_factory=dict)  # "plugin/stream" -> records
    calls: dict[str, int] = field(default_factory=dict)  # "plugin/status" -> calls
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    target_calls: dict[str, int] = field(default_factory=dict)
    failed_records: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """The most telling error: a plugin's own message before Meltano's "Extractor failed"."""
        from_plugins = [e for e in self.errors if not e.startswith(_GENERIC)]
        if from_plugins:
            return from_plugins[-1]
        return self.errors[-1] if self.errors else f"meltano exited {self.returncode}"

    @property
    def permanent(self) -> bool:
        """The failure needs a fix, not another try (bad token, bad setting, refused call)."""
        return any(_PERMANENT.search(e) for e in self.errors)

    def metadata(self) -> dict[str, Any]:
        """Dagster metadata: records per stream, calls, outcomes, failures."""
        return {
            "records per stream": dict(sorted(self.records.items())),
            "API calls (tap)": dict(sorted(self.calls.items())),
            "API calls (target)": dict(sorted(self.target_calls.items())),
            "outcomes": self.outcomes,
            "failed records": self.failed_records,
            "errors": "\n".join(self.errors[-10:]) or "none",
        }


def read_report(
    returncode: int, log_path: Path, results: Iterable[Path], *, since: float
) -> RunReport:
    """The report of a run that exited ``returncode``: its log, and results written ``since``."""
    report = RunReport(returncode=returncode)
    with log_path.open(encoding="utf-8", errors="replace") as fh:
        parse_log(fh, report)
    read_summaries(results, report, since=since)
    return report


def _metric(event: str) -> dict[str, Any] | None:
    if not event.startswith("METRIC: "):
        return None
    try:
        return json.loads(event[len("METRIC: ") :])
    except ValueError:
        return None


def parse_log(lines: Iterable[str], report: RunReport) -> None:
    """Fold ``meltano --log-format=json run`` lines into ``report``."""
    records: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        event = str(entry.get("event", ""))
        plugin = str(entry.get("name") or "meltano")
        metric = _metric(event)
        if metric is not None:
            tags = metric.get("tags") or {}
            if metric.get("metric") == "record_count" and entry.get("producer"):
                records[f"{plugin}/{tags.get('stream')}"] += int(metric.get("value") or 0)
            elif metric.get("metric") == "http_request_duration":
                calls[f"{plugin}/{tags.get('http_status_code', 'no answer')}"] += 1
            continue
        is_error = entry.get("level") in ("error", "critical") or re.search(
            r"answered \d{3} |Error: |Error\b.*: ", event
        )
        if is_error and not event.startswith(("Traceback", "  ", "Block run completed")):
            report.errors.append(
                f"{plugin}: {event.strip()}" if plugin != "meltano" else event.strip()
            )
    report.records = dict(records)
    report.calls = dict(calls)


def read_summaries(paths: Iterable[Path], report: RunReport, since: float) -> None:
    """Add the last summary of each results file written by this run."""
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    target_calls: Counter[str] = Counter()
    for path in paths:
        if not path.is_file() or path.stat().st_mtime < since:
            continue
        summary = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if '"type": "summary"' in line:
                summary = json.loads(line)
        if summary is None:
            continue
        for stream, counts in (summary.get("outcomes") or {}).items():
            outcomes[stream].update(counts)
        target_calls.update({k: int(v) for k, v in (summary.get("calls") or {}).items()})
        report.failed_records += int(summary.get("failed") or 0)
    report.outcomes = {s: dict(c) for s, c in sorted(outcomes.items())}
    report.target_calls = dict(target_calls)
