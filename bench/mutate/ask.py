"""cosmic-ray's test command in ``make mutate``: the fork server runs pytest; exit with its code.

``python -S -E ask.py SOCKET REQUEST.json``: sends the request (``forkserver.py`` says what it
holds) and waits. Standard library only, so it starts in milliseconds. Exit codes: pytest's
(0 = every test passed: the mutant survived; ``UNCOVERED`` too, saying so), or ``TIMED_OUT``
when the run went past the request's timeout (the server killed it: a timed-out mutant).
"""

import json
import socket
import sys
from pathlib import Path

TIMED_OUT = 124


def ask(socket_path: str, request: dict) -> str:
    """One request to the fork server; its one-line answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(socket_path)
        stream = conn.makefile("rwb")
        stream.write(json.dumps(request).encode() + b"\n")
        stream.flush()
        return stream.readline().decode().strip()


def main() -> int:
    """Send the request file's request, exit with pytest's code."""
    request = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
    answer = ask(sys.argv[1], request)
    if answer == "timeout":
        print("timeout")
        return TIMED_OUT
    if answer == "uncovered":
        print("uncovered: no test executes the mutated line")
        return 0
    return int(answer)


if __name__ == "__main__":
    sys.exit(main())
