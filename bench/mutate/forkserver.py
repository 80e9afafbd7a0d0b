"""A pytest fork server for ``make mutate``: a fresh pytest per mutant, only the tests that matter.

Run by ``run_mutate.py`` with the project's venv, in a temporary copy of the repository (never
the developer's tree), one server per worker. It imports the heavy third-party libraries once
(pytest, the Singer SDK, requests, ...) and never the project's own packages; each request forks
a child that runs ``pytest.main`` on the mutated copy, so the project's modules are imported
fresh from disk in every child, as in a new process, while a run costs a fork instead of a
second of imports. Bytecode is never written: a mutant and the original can have the same size
and modification second, and a stale ``.pyc`` would test the wrong code.

Test selection (as mutmut and pytest-testmon do): the module's baseline run records, with
coverage, which tests execute each of its lines. For a mutant, the server finds the first line
that differs from the original and runs only the tests that execute it, fastest first; a line
run at import time gets every test, and a line no test executes survives without a run (no
test could notice it). pytest's own "no tests ran"/"usage error" falls back to every test.

Protocol (a Unix socket, one request per connection): one JSON line in, one line out: the
pytest exit code, ``timeout`` (the child ran past ``timeout`` and was killed with its process
group) or ``uncovered`` (no test executes the mutated line). A request has ``args`` (pytest's
options) and ``timeout``; with ``tests``, ``module`` and ``map`` it is a mutant's run, and with
``"baseline": true`` too, the module's baseline, which writes the map.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

# The packages ``make mutate`` mutates: never imported by the server, so every child imports
# them from the (mutated) copy. The sandbox (the test store) imports none of them and is never
# mutated; it is warmed with the pytest plugins, whose modules pytest would otherwise re-rewrite
# for assertions in every child (bytecode is not written, so nothing is cached between runs).
PROJECT_PACKAGES = (
    "cartcom_client",
    "tap_cartcom",
    "target_cartcom",
    "cartcom_orchestration",
)
# Imported once by the server; a child only imports what its tests add.
WARM = (
    "cartcom_sandbox.pytest_plugin",
    "cartcom_sandbox.server",
    "cartcom_sandbox.app",
    "cartcom_sandbox.store",
    "cartcom_sandbox.seed",
    "singer_sdk.testing.pytest_plugin",
    "platformdirs.pytest_plugin",
    "anyio.pytest_plugin",
    "requests_mock.contrib._pytest_plugin",
    "pytest",
    "_pytest.python",
    "_pytest.assertion.rewrite",
    "coverage",
    "requests",
    "requests_mock",
    "jsonschema",
    "singer_sdk",
    "singer_sdk.streams",
    "singer_sdk.sinks",
    "singer_sdk.testing",
    "sqlalchemy",
    "yaml",
    "pytest_timeout",
)
NO_TESTS_RAN, USAGE_ERROR = 5, 4


def _warm() -> None:
    for name in WARM:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    sandbox = sys.modules.get("cartcom_sandbox")
    if sandbox is not None and not str(sandbox.__file__).startswith(os.getcwd()):
        raise SystemExit(f"forkserver: cartcom_sandbox imported from {sandbox.__file__}")
    leaked = sorted(name for name in sys.modules if name.split(".")[0] in PROJECT_PACKAGES)
    if leaked:
        raise SystemExit(f"forkserver: a warm-up import loaded project modules: {leaked[:5]}")


class _Recorder:
    """A pytest plugin for the baseline: coverage context = the running test; its duration."""

    def __init__(self, cov: object) -> None:
        self.cov = cov
        self.seconds: dict[str, float] = {}

    def pytest_runtest_protocol(self, item, nextitem):
        """Tag what ``item`` executes with its node id, and time it."""
        self.cov.switch_context(item.nodeid)
        self._started = time.perf_counter()

    def pytest_runtest_logfinish(self, nodeid, location):
        """Back to the import-time context."""
        self.seconds[nodeid] = time.perf_counter() - self._started
        self.cov.switch_context("")


def _baseline(args: list[str], module: str, map_path: str) -> int:
    """Run every test under coverage; write line -> tests (fastest first) to ``map_path``."""
    import coverage
    import pytest

    target = os.path.realpath(module)
    cov = coverage.Coverage(data_file=None, config_file=False, include=[f"*/{Path(module).name}"])
    recorder = _Recorder(cov)
    cov.start()
    try:
        code = int(pytest.main(args, plugins=[recorder]))
    finally:
        cov.stop()
    data = cov.get_data()
    lines: dict[int, set[str]] = {}
    for measured in data.measured_files():
        if os.path.realpath(measured) != target:
            continue
        for number, contexts in (data.contexts_by_lineno(measured) or {}).items():
            lines.setdefault(number, set()).update(contexts)
    source = Path(module).read_text(encoding="utf-8")
    for start, end in _statement_spans(source):
        tests = set().union(*(lines.get(n, set()) for n in range(start, end + 1)))
        if tests:
            for number in range(start, end + 1):
                lines[number] = tests
    speed = recorder.seconds
    Path(map_path).write_text(
        json.dumps(
            {
                "original": Path(module).read_text(encoding="utf-8"),
                "lines": {
                    str(n): sorted(tests, key=lambda t: (t != "", speed.get(t, 0.0), t))
                    for n, tests in lines.items()
                },
            }
        ),
        encoding="utf-8",
    )
    return code


def _statement_spans(source: str) -> list[tuple[int, int]]:
    """First and last line of each statement written over several lines (a compound one's header).

    Coverage records the lines a statement's bytecode runs on, and ``if (`` on a line of its
    own runs none: every line of the statement gets the tests of any of them, so a mutant of
    such a line runs the tests that execute its statement instead of surviving unrun.
    """
    spans = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.stmt) or node.end_lineno is None:
            continue
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            end = body[0].lineno - 1  # the header of an if, for, def, with, ...
        else:
            end = node.end_lineno
        if end > node.lineno:
            spans.append((node.lineno, end))
    return spans


def _changed_line(original: str, current: str) -> int | None:
    """The first line (1-based) where ``current`` differs from ``original``."""
    old, new = original.splitlines(), current.splitlines()
    for number, (a, b) in enumerate(zip(old, new, strict=False), start=1):
        if a != b:
            return number
    return None if len(old) == len(new) else min(len(old), len(new)) + 1


def _selection(request: dict, maps: dict[str, dict]) -> list[str] | None:
    """The tests to run for the mutant now on disk; None when no test executes its line."""
    path = request["map"]
    if path not in maps:
        maps[path] = json.loads(Path(path).read_text(encoding="utf-8"))
    covered = maps[path]
    line = _changed_line(covered["original"], Path(request["module"]).read_text(encoding="utf-8"))
    tests = covered["lines"].get(str(line), []) if line is not None else []
    if not tests:
        return None
    if "" in tests:  # run at import time: every test depends on it
        return request["tests"]
    return tests


def _child(args: list[str], log_path: str, baseline: tuple[str, str] | None) -> None:
    """In the forked child: a new process group, output to the log, pytest, exit."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    code = 3
    try:
        if baseline is not None:
            code = _baseline(args, *baseline)
        else:
            import pytest

            code = int(pytest.main(args))
    except BaseException:  # any escape is a failed run, reported by its code
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _run(
    args: list[str], timeout: float, log_path: str, baseline: tuple[str, str] | None = None
) -> str:
    pid = os.fork()
    if pid == 0:
        _child(args, log_path, baseline)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return str(os.waitstatus_to_exitcode(status))
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.005)


def _answer(request: dict, log_path: str, maps: dict[str, dict]) -> str:
    options, timeout = request["args"], float(request["timeout"])
    if "module" not in request:
        return _run(options, timeout, log_path)
    if request.get("baseline"):
        maps.pop(request["map"], None)
        baseline = (request["module"], request["map"])
        return _run([*options, *request["tests"]], timeout, log_path, baseline)
    tests = _selection(request, maps)
    if tests is None:
        Path(log_path).write_text("no test executes the mutated line\n", encoding="utf-8")
        return "uncovered"
    answer = _run([*options, *tests], timeout, log_path)
    if answer in (str(NO_TESTS_RAN), str(USAGE_ERROR)) and tests != request["tests"]:
        answer = _run([*options, *request["tests"]], timeout, log_path)
    return answer


def main() -> None:
    """Serve on ``argv[1]`` (a socket path), logging each run's output to ``argv[2]``."""
    socket_path, log_path = sys.argv[1], sys.argv[2]
    sys.dont_write_bytecode = True
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    _warm()
    maps: dict[str, dict] = {}
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(4)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        with conn, conn.makefile("rwb") as stream:
            request = json.loads(stream.readline())
            if request.get("stop"):
                return
            stream.write(_answer(request, log_path, maps).encode() + b"\n")
            stream.flush()


if __name__ == "__main__":
    main()
