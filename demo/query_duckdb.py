"""Run SQL on the demo's DuckDB file and print the rows as JSON (one list per query).

Runs with target-duckdb's own interpreter (``.meltano/loaders/target-duckdb/venv/bin/python``),
so the project venv needs no duckdb of its own and the file is read by the same duckdb version
that wrote it:

    .meltano/loaders/target-duckdb/venv/bin/python demo/query_duckdb.py FILE "SQL" ["SQL" ...]
"""

from __future__ import annotations

import json
import sys

import duckdb


def main(argv: list[str]) -> int:
    """Print ``[[row, ...], ...]`` for the queries in ``argv[1:]`` on the file ``argv[0]``."""
    path, queries = argv[0], argv[1:]
    con = duckdb.connect(path, read_only=True)
    try:
        out = [[list(row) for row in con.execute(q).fetchall()] for q in queries]
    finally:
        con.close()
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
