"""Only runtime code in the runtime wheels, and each plugin wheel carries the shared client.

Each distribution is built the way `python -m build` builds it: an sdist first, then the wheel
FROM that sdist (the path PyPI users and `pip install <sdist>` take). A wheel fails when it holds
tests, benchmarks, the demo, listing scenarios or the conformance machinery; a plugin wheel (and
the sandbox's, for its store probe) fails when its private client (`<package>/_client`) is
missing or differs from the one source, cartcom-client/cartcom_client, or when the two plugin
wheels share a file (they are installed side by side in one venv by `make install`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

#: Builds every distribution in an isolated environment (minutes on a fresh clone).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "cartcom-client" / "cartcom_client"
#: distribution folder -> its top-level packages
DISTRIBUTIONS = {
    "tap-cartcom": {"tap_cartcom"},
    "target-cartcom": {"target_cartcom"},
    "cartcom-client": {"cartcom_client"},
    "cartcom-sandbox": {"cartcom_sandbox", "cartcom_store_probe"},  # the emulator; the probe
    "cartcom-orchestration": {"cartcom_orchestration"},
}
PLUGINS = ("tap-cartcom", "target-cartcom")
#: distribution folder -> the package that carries the client as `_client`
CLIENT_HOLDERS = {
    "tap-cartcom": "tap_cartcom",
    "target-cartcom": "target_cartcom",
    "cartcom-sandbox": "cartcom_store_probe",
}

#: Folder names that are never runtime code.
_DEV_DIRS = {"tests", "test", "bench", "benchmarks", "demo", "cartcom_testing", "conformance"}
#: Module names (or name fragments) that are never runtime code.
_DEV_NAMES = ("conftest", "scenario", "run_demo", "conformance", "bench_")


def _is_dev_only(path: PurePosixPath) -> bool:
    return bool(
        set(path.parts[:-1]) & _DEV_DIRS
        or path.name.startswith("test_")
        or path.stem.endswith("_test")
        or any(fragment in path.name for fragment in _DEV_NAMES)
    )


def dev_only_files(names: list[str]) -> list[str]:
    """The wheel members that are tests, benchmarks, demo, scenario or conformance code."""
    return [
        name
        for name in names
        if not PurePosixPath(name).parts[0].endswith(".dist-info")
        and _is_dev_only(PurePosixPath(name))
    ]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, zipfile.ZipFile]:
    """Every distribution built sdist-then-wheel, opened."""
    out = tmp_path_factory.mktemp("dist")
    # uv (a dependency of meltano, in the dev group) builds the isolated environments 3x faster.
    uv = Path(sys.executable).parent / "uv"
    installer = ["--installer", "uv"] if uv.exists() else []
    env = dict(os.environ, PATH=f"{uv.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    built = {}
    for folder in DISTRIBUTIONS:
        dest = out / folder
        proc = subprocess.run(
            [sys.executable, "-m", "build", *installer, "--outdir", str(dest), str(ROOT / folder)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            env=env,
        )
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"building {folder} failed:\n{log[-3000:]}"
        (wheel,) = dest.glob("*.whl")
        built[folder] = zipfile.ZipFile(wheel)
    return built


def test_dev_only_files_are_recognised() -> None:
    """The check itself: each kind of dev-only member is caught, runtime modules are not."""
    names = [
        "tap_cartcom/tap.py",
        "tap_cartcom/_client/session.py",
        "cartcom_sandbox/pytest_plugin.py",
        "cartcom_sandbox/seeding/data.py",
        "tap_cartcom-0.1.0.dist-info/RECORD",
        "tap_cartcom/tests/helpers.py",
        "cartcom_sandbox/test_engine.py",
        "cartcom_sandbox/demo/run.py",
        "target_cartcom/listings/scenarios.py",
        "cartcom_sandbox/conformance.py",
        "bench/bench_tap.py",
        "tap_cartcom/conftest.py",
    ]
    assert dev_only_files(names) == names[5:]


@pytest.mark.parametrize("folder", list(DISTRIBUTIONS))
def test_wheel_holds_only_runtime_code(folder: str, wheels: dict[str, zipfile.ZipFile]) -> None:
    """No tests, bench, demo, scenario or conformance code in the wheel; its own packages only."""
    names = wheels[folder].namelist()
    assert dev_only_files(names) == []
    tops = {PurePosixPath(n).parts[0] for n in names if ".dist-info/" not in n}
    assert tops == DISTRIBUTIONS[folder]


@pytest.mark.parametrize("plugin", list(CLIENT_HOLDERS))
def test_plugin_wheel_carries_the_shared_client(
    plugin: str, wheels: dict[str, zipfile.ZipFile]
) -> None:
    """`<package>/_client` holds every module of cartcom_client, byte for byte."""
    wheel = wheels[plugin]
    prefix = f"{CLIENT_HOLDERS[plugin]}/_client/"
    shipped = {n[len(prefix) :]: wheel.read(n) for n in wheel.namelist() if n.startswith(prefix)}
    source = {
        p.relative_to(CLIENT).as_posix(): p.read_bytes()
        for p in CLIENT.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert "__init__.py" in source
    assert shipped == source
    requires = wheel.read(
        next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    ).decode()
    assert "Requires-Dist: cartcom-client" not in requires


def test_plugin_wheels_share_no_file(wheels: dict[str, zipfile.ZipFile]) -> None:
    """Tap and target install side by side: no file belongs to both wheels."""
    tap, target = ({n for n in wheels[p].namelist() if ".dist-info/" not in n} for p in PLUGINS)
    assert tap
    assert target
    assert tap & target == set()
