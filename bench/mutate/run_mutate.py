"""``make mutate``: mutation testing of the modules where a wrong line loses a merchant's data.

For each module of ``bench/mutate/modules.toml``, cosmic-ray (pinned in ``requirements.txt``,
run from its own venv) makes one-line mutants (a flipped comparison, a dropped or negated
condition, an off-by-one, a skipped write or loop, ...; the operator list is in the config)
and runs that module's tests against each, one mutant at a time. A mutant the tests pass on
"survived": a wrong line nobody would notice.

Nothing is mutated in the developer's tree: each worker gets a temporary copy of the repository
(tracked and untracked files, as they are now), imported ahead of the editable installs through
``PYTHONPATH`` (checked before any mutant runs), and the copy is removed at the end, on an
error or Ctrl-C alike. Each worker runs pytest through a fork server (``forkserver.py``) so a
mutant costs a fork, not the second of imports a fresh interpreter would.

Run: ``make mutate`` (all modules, 2 workers), or
``.venv-mutate/bin/python bench/mutate/run_mutate.py --module "client urls.py"``.
Results: ``bench/results/mutation.json`` (``--results`` to write elsewhere); exit 1 when a
module scores under ``--min-score``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import queue
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from ask import ask  # bench/mutate/ask.py, beside this script
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PACKAGE_DIRS = (
    "cartcom-client",
    "cartcom-sandbox",
    "tap-cartcom",
    "target-cartcom",
    "cartcom-orchestration",
)
PACKAGES = ("cartcom_client", "cartcom_sandbox", "tap_cartcom", "target_cartcom")
PACKAGES += ("cartcom_orchestration",)


@dataclass
class Module:
    """One entry of the config: a file, the functions in scope, the tests that cover it."""

    name: str
    path: str
    tests: list[str]
    functions: list[str] = field(default_factory=list)
    pytest_args: list[str] = field(default_factory=list)


@dataclass
class Equivalent:
    """A mutant no test can kill because it does not change behaviour, and why."""

    module: str
    operator: str
    line: str
    reason: str
    mutant: str = ""
    used: bool = False


def load_config(path: Path) -> tuple[dict, list[Module], list[Equivalent]]:
    """The settings, the modules and the equivalent mutants of ``modules.toml``."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    modules = [Module(**entry) for entry in data["module"]]
    equivalents = [Equivalent(**entry) for entry in data.get("equivalent", [])]
    return data["settings"], modules, equivalents


def copy_tree(destination: Path) -> None:
    """The repository's files as they are now (tracked and untracked, not ignored)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        target = destination / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)


def lane_env(copy: Path) -> dict[str, str]:
    """The environment of a worker's tests: the copy's packages ahead of the editable installs."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(copy / name) for name in PACKAGE_DIRS)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def check_imports(python: str, copy: Path, env: dict[str, str]) -> None:
    """Refuse to run unless the project's packages are imported from the copy."""
    code = (
        "import importlib, json, sys\n"
        f"names = {list(PACKAGES)!r}\n"
        "print(json.dumps({n: importlib.import_module(n).__file__ for n in names}))\n"
    )
    found = json.loads(
        subprocess.run(
            [python, "-c", code], cwd=copy, env=env, check=True, capture_output=True, text=True
        ).stdout
    )
    outside = {name: where for name, where in found.items() if not where.startswith(str(copy))}
    if outside:
        raise SystemExit(f"mutate: packages imported from outside the copy: {outside}")


class Lane:
    """One worker: a copy of the repository, a fork server, modules run one after another."""

    def __init__(self, number: int, base: Path, python: str) -> None:
        self.number = number
        self.dir = base / f"lane{number}"
        self.copy = self.dir / "repo"
        self.copy.mkdir(parents=True)
        copy_tree(self.copy)
        self.python = python
        self.env = lane_env(self.copy)
        check_imports(python, self.copy, self.env)
        # Bytecode checked against the source's hash on every import: a mutated file is always
        # compiled afresh (children write no bytecode), the others load from cache.
        packages = [str(self.copy / name) for name in PACKAGE_DIRS]
        compile_all = [python, "-m", "compileall", "-q", "-j", "0"]
        compile_all += ["--invalidation-mode", "checked-hash", *packages]
        subprocess.run(compile_all, cwd=self.copy, env=self.env, check=True)
        self.socket = self.dir / "pytest.sock"
        self.log = self.dir / "pytest.log"
        self.server = subprocess.Popen(
            [python, str(self.copy / "bench/mutate/forkserver.py"), str(self.socket), self.log],
            cwd=self.copy,
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.server.stdout is not None
        if self.server.stdout.readline().strip() != "ready":
            raise SystemExit(f"mutate: the fork server of worker {number} did not start")
        self.running: subprocess.Popen | None = None

    def ask(self, request: dict) -> str:
        """One request to the fork server (see forkserver.py); its answer."""
        return ask(str(self.socket), request)

    def test_command(self, request_file: Path) -> str:
        """cosmic-ray's test command: ask.py sends ``request_file`` to the fork server."""
        client = self.copy / "bench/mutate/ask.py"
        return f"{self.python} -S -E {client} {self.socket} {request_file}"

    def run(
        self, command: list[str], *, check: bool = False, capture_output: bool = False, **kwargs
    ) -> subprocess.CompletedProcess:
        """A subprocess in the copy that can be stopped from the main thread."""
        if capture_output:
            kwargs |= {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        with subprocess.Popen(command, cwd=self.copy, env=self.env, **kwargs) as process:
            self.running = process
            out, err = process.communicate()
            self.running = None
        if check and process.returncode != 0:
            raise subprocess.CalledProcessError(process.returncode, command, out, err)
        return subprocess.CompletedProcess(command, process.returncode, out, err)

    def close(self) -> None:
        """Stop what still runs."""
        if self.running is not None:
            with contextlib.suppress(ProcessLookupError):
                self.running.kill()
        with contextlib.suppress(ProcessLookupError):
            self.server.kill()
        self.server.wait()
        if self.server.stdout is not None:
            self.server.stdout.close()


def request_for(settings: dict, module: Module, map_file: Path, timeout: float) -> dict:
    """What the fork server needs to run a mutant's tests (forkserver.py)."""
    return {
        "args": [*settings["pytest_args"], *module.pytest_args],
        "tests": module.tests,
        "module": module.path,
        "map": str(map_file),
        "timeout": timeout,
    }


def annotations(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the type annotations are: code never run, so left out as a comment would be.

    With ``from __future__ import annotations`` (required of every module mutated) they are
    never evaluated: a mutant there (``str | None`` made ``str & None``) changes nothing.
    """
    spans = []
    for node in ast.walk(ast.parse(source)):
        found = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            found.append(node.returns)
        elif (isinstance(node, ast.arg) and node.annotation) or isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        spans += [((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in found]
    return spans


def in_annotation(position: tuple[int, int], spans: list) -> bool:
    """``position`` (line, column) lies inside one of the annotation ``spans``."""
    return any(start <= tuple(position) < end for start, end in spans)


def is_bare_star(operator: str, position: tuple[int, int], lines: list[str]) -> bool:
    """The bare ``*`` of a signature, which cosmic-ray takes for the product ``*``.

    It makes the next parameters keyword-only; there is no operator, so no mutant (``*,``
    made ``/,`` is a signature edit, left out as annotations are).
    """
    if not operator.startswith("core/ReplaceBinaryOperator_Mul_"):
        return False
    line, column = position
    text = lines[line - 1]
    return text[column : column + 1] == "*" and text[column + 1 :].lstrip()[:1] in (",", ")", "")


def run_module(lane: Lane, settings: dict, module: Module, include: re.Pattern) -> dict:
    """Baseline, then every mutant of ``module`` in scope; the raw results."""
    started = time.monotonic()
    slug = re.sub(r"[^a-z0-9]+", "-", module.name.lower()).strip("-")
    config = lane.dir / f"{slug}.toml"
    session = lane.dir / f"{slug}.sqlite"
    map_file = lane.dir / f"{slug}.lines.json"
    request_file = lane.dir / f"{slug}.request.json"

    baseline_started = time.monotonic()
    request = request_for(settings, module, map_file, settings["baseline_timeout"])
    answer = lane.ask(request | {"baseline": True})
    baseline_seconds = time.monotonic() - baseline_started
    if answer != "0":
        log = lane.log.read_text(encoding="utf-8", errors="replace")[-3000:]
        return {"error": f"tests fail without a mutant ({answer}):\n{log}"}
    timeout = settings["timeout_constant"] + settings["timeout_multiplier"] * baseline_seconds
    request_file.write_text(json.dumps(request_for(settings, module, map_file, timeout)))
    command = lane.test_command(request_file)
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(module.path)}\n"
        f"timeout = {timeout + 30:.0f}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n',
        encoding="utf-8",
    )
    cosmic_ray = str(Path(sys.executable).with_name("cosmic-ray"))
    lane.run([cosmic_ray, "init", str(config), str(session)], check=True)
    source = (ROOT / module.path).read_text(encoding="utf-8")
    if "from __future__ import annotations" not in source:
        return {"error": "annotations are evaluated here: add `from __future__ import annotations`"}
    spans = annotations(source)
    lines = source.splitlines()
    with use_db(str(session), WorkDB.Mode.open) as db:
        # What cr-filter-operators does, plus the functions in scope, in one transaction.
        skipped = WorkResult(output="out of scope", worker_outcome=WorkerOutcome.SKIPPED)
        out_of_scope = [
            item.job_id
            for item in db.work_items
            if not include.match(item.mutations[0].operator_name)
            or (module.functions and item.mutations[0].definition_name not in module.functions)
            or in_annotation(item.mutations[0].start_pos, spans)
            or is_bare_star(item.mutations[0].operator_name, item.mutations[0].start_pos, lines)
        ]
        db.set_multiple_results(out_of_scope, skipped)
    exec_log = lane.dir / f"{slug}.exec.log"
    with exec_log.open("w") as out:
        done = lane.run([cosmic_ray, "exec", str(config), str(session)], stdout=out, stderr=out)
    if done.returncode != 0:
        return {"error": f"cosmic-ray exec failed (exit {done.returncode}), see {exec_log}"}
    original = (ROOT / module.path).read_bytes()
    if (lane.copy / module.path).read_bytes() != original:
        return {"error": "the copy's module differs from the original after the run"}
    lines = original.decode("utf-8").splitlines()
    mutants = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            mutation = item.mutations[0]
            line = mutation.start_pos[0]
            mutants.append(
                {
                    "operator": mutation.operator_name,
                    "line": line,
                    "function": mutation.definition_name,
                    "code": lines[line - 1].strip(),
                    "mutant": _mutated_line(result.diff or ""),
                    "outcome": _outcome(result),
                    "uncovered": (result.output or "").startswith("uncovered"),
                }
            )
    return {
        "mutants": sorted(mutants, key=lambda m: (m["line"], m["operator"])),
        "seconds": round(time.monotonic() - started, 1),
        "baseline_seconds": round(baseline_seconds, 2),
    }


def _mutated_line(diff: str) -> str:
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            return line[1:].strip()
    return ""


def _outcome(result: WorkResult) -> str:
    if result.worker_outcome != WorkerOutcome.NORMAL:
        return "incompetent"
    if result.test_outcome == TestOutcome.KILLED:
        return "timeout" if (result.output or "").strip() == "timeout" else "killed"
    if result.test_outcome == TestOutcome.SURVIVED:
        return "survived"
    return "incompetent"


def summarise(module: Module, raw: dict, equivalents: list[Equivalent]) -> dict:
    """Counts, score and survivors of one module; survivors listed as equivalent set apart."""
    entry: dict = {"path": module.path, "tests": module.tests}
    if module.functions:
        entry["functions"] = module.functions
    if "error" in raw:
        entry["error"] = raw["error"]
        return entry
    counts = dict.fromkeys(("killed", "survived", "timeout", "equivalent", "incompetent"), 0)
    survivors, marked = [], []
    for mutant in raw["mutants"]:
        outcome = mutant["outcome"]
        if outcome == "survived":
            reason = _equivalent(module, mutant, equivalents)
            if reason is not None:
                outcome = "equivalent"
                marked.append(_brief(mutant) | {"reason": reason})
            else:
                survivors.append(_brief(mutant))
        counts[outcome] += 1
    generated = len(raw["mutants"])
    scored = generated - counts["equivalent"] - counts["incompetent"]
    detected = counts["killed"] + counts["timeout"]
    entry |= {"generated": generated, **counts}
    entry["score"] = round(100 * detected / scored, 1) if scored else 100.0
    entry |= {"seconds": raw["seconds"], "baseline_seconds": raw["baseline_seconds"]}
    entry |= {"survivors": survivors, "equivalents": marked}
    return entry


def _brief(mutant: dict) -> dict:
    keys = ("line", "function", "operator", "code", "mutant")
    brief = {key: mutant[key] for key in keys}
    if mutant.get("uncovered"):
        brief["uncovered"] = True  # no test executes the line
    return brief


def _equivalent(module: Module, mutant: dict, equivalents: list[Equivalent]) -> str | None:
    for entry in equivalents:
        if (
            entry.module == module.name
            and entry.operator == mutant["operator"]
            and entry.line.strip() == mutant["code"]
            and (not entry.mutant or entry.mutant.strip() == mutant["mutant"])
        ):
            entry.used = True
            return entry.reason
    return None


def table(modules: dict[str, dict]) -> str:
    """The per-module table printed at the end (and quoted in the docs)."""
    head = f"{'module':40} {'gen':>5} {'kill':>5} {'surv':>5} {'t/o':>4} {'equiv':>5} {'score':>6}"
    rows = [head, "-" * len(head)]
    for name, entry in modules.items():
        if "error" in entry:
            rows.append(f"{name:40} ERROR")
            continue
        rows.append(
            f"{name:40} {entry['generated']:5} {entry['killed']:5} {entry['survived']:5} "
            f"{entry['timeout']:4} {entry['equivalent']:5} {entry['score']:5.1f}%"
        )
    return "\n".join(rows)


def overall(modules: dict[str, dict]) -> dict:
    """The counts over all modules and the overall score."""
    keys = ("generated", "killed", "survived", "timeout", "equivalent", "incompetent")
    total = {key: sum(entry.get(key, 0) for entry in modules.values()) for key in keys}
    scored = total["generated"] - total["equivalent"] - total["incompetent"]
    detected = total["killed"] + total["timeout"]
    total["score"] = round(100 * detected / scored, 1) if scored else 100.0
    return total


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("+uncommitted" if dirty else "")


def main() -> int:
    """Run the modules asked for (all by default) and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=HERE / "modules.toml")
    parser.add_argument("--module", action="append", help="a module's name in the config")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results", type=Path, default=ROOT / "bench/results/mutation.json")
    parser.add_argument("--python", default=str(ROOT / ".venv/bin/python"))
    parser.add_argument("--min-score", type=float, default=0.0)
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the other modules' results from --results (a re-run of some modules)",
    )
    options = parser.parse_args()

    settings, modules, equivalents = load_config(options.config)
    if options.module:
        unknown = set(options.module) - {m.name for m in modules}
        if unknown:
            parser.error(f"not in the config: {sorted(unknown)}")
        modules = [m for m in modules if m.name in options.module]
    include = re.compile("|".join(f"(?:{pattern})$" for pattern in settings["operators"]))
    previous = {}
    with contextlib.suppress(OSError, ValueError):
        previous = json.loads(options.results.read_text(encoding="utf-8"))["modules"]
    # Longest first (last run's time, else the size of the file), so the workers finish together.
    modules.sort(
        key=lambda m: -previous.get(m.name, {}).get("seconds", (ROOT / m.path).stat().st_size / 50)
    )

    started, load = time.monotonic(), os.getloadavg()[0]
    signal.signal(signal.SIGTERM, _interrupt)
    stop = threading.Event()
    base = Path(tempfile.mkdtemp(prefix="cartcom-mutate-"))
    lanes: list[Lane] = []
    raw: dict[str, dict] = {}
    try:
        lanes = [Lane(n, base, options.python) for n in range(options.jobs)]
        work: queue.Queue[Module] = queue.Queue()
        for module in modules:
            work.put(module)

        def worker(lane: Lane) -> None:
            while not stop.is_set():
                try:
                    module = work.get_nowait()
                except queue.Empty:
                    return
                print(f"[{lane.number}] {module.name} ...", flush=True)
                try:
                    raw[module.name] = run_module(lane, settings, module, include)
                except Exception as error:  # reported per module; the others go on
                    raw[module.name] = {"error": repr(error)}
                result = raw[module.name]
                if "error" in result:
                    note = result["error"].splitlines()[0]
                else:
                    entry = summarise(module, result, equivalents)
                    note = f"{entry['generated']} mutants, score {entry['score']}%"
                elapsed = time.monotonic() - started
                print(f"[{lane.number}] {module.name}: {note} ({elapsed:.0f} s)", flush=True)

        threads = [threading.Thread(target=worker, args=(lane,), daemon=True) for lane in lanes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
        for lane in lanes:
            lane.close()
        shutil.rmtree(base, ignore_errors=True)

    wall = time.monotonic() - started
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(u.ru_utime + u.ru_stime for u in (self_usage, children))
    all_modules = load_config(options.config)[1]
    results = {
        m.name: summarise(m, raw[m.name], equivalents)
        for m in all_modules
        if m.name in raw or m in modules
    }
    for m in modules:
        results.setdefault(m.name, summarise(m, {"error": "not run"}, equivalents))
    if options.update:
        kept = {name: entry for name, entry in previous.items() if name not in results}
        merged = results | kept
        results = {m.name: merged[m.name] for m in all_modules if m.name in merged}
    stale = [
        {"module": e.module, "operator": e.operator, "line": e.line}
        for e in equivalents
        if not e.used and (not options.module or e.module in options.module)
    ]
    report = {
        "tool": f"cosmic-ray {metadata.version('cosmic-ray')}",
        "commit": _commit(),
        "jobs": options.jobs,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "load_average_at_start": round(load, 2),
        "operators": settings["operators"],
        "overall": overall(results),
        "modules": results,
        "stale_equivalents": stale,
    }
    options.results.parent.mkdir(parents=True, exist_ok=True)
    options.results.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"overall score {report['overall']['score']}%, wall {wall:.0f} s, CPU {cpu:.0f} s")
    print(f"results: {options.results}")
    if stale:
        print(f"equivalent entries that matched no survivor (stale): {stale}")
    failing = [
        name
        for name, entry in results.items()
        if "error" in entry or entry["score"] < options.min_score
    ]
    if failing:
        print(f"under {options.min_score}% or failed: {failing}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
