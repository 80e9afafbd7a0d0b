"""The stores file: what it accepts, and errors that name the entry and the field."""

from pathlib import Path

import pytest
from cartcom_orchestration.stores import StoresFileError, load_stores

JOBS = {"extract-store": [], "get-orders": [], "push-tracking": []}
ROOT = Path(__file__).resolve().parents[2]


def _load(tmp_path: Path, text: str):
    path = tmp_path / "stores.yml"
    path.write_text(text)
    return load_stores(path, JOBS)


def test_the_committed_example_loads_against_meltano_yml() -> None:
    """stores.example.yml is valid for the project's own jobs."""
    from cartcom_orchestration.project import load_project

    project = load_project(ROOT)
    config = load_stores(ROOT / "stores.example.yml", project.jobs)
    names = [s.name for s in config.stores]
    assert names == ["acme", "brand_two", "outlet"]
    assert config.stores[0].jobs == ("extract-store", "get-orders", "push-tracking")
    assert config.stores[1].jobs == tuple(project.jobs)  # default: every job
    assert config.stores[1].router is not None
    assert config.stores[1].router.site_id == "1234"
    assert config.stores[1].secret_vars == ("CARTCOM_PUB_USER", "CARTCOM_PUB_SECRET")


def test_a_missing_file_says_what_to_create(tmp_path: Path) -> None:
    """No file: the message names the path, the example and the variable."""
    with pytest.raises(StoresFileError) as err:
        load_stores(tmp_path / "stores.yml", JOBS)
    text = str(err.value)
    assert str(tmp_path / "stores.yml") in text
    assert "stores.example.yml" in text
    assert "CARTCOM_STORES_FILE" in text


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ("{name: Acme, domain: a.com, token_env: T, plan: gold}", "stores[0], `name`"),
        ("{name: acme, token_env: T, plan: gold}", "stores[0] (acme), `domain`/`api_url`"),
        (
            "{name: acme, domain: a.com, api_url: 'https://a.com', token_env: T, plan: gold}",
            "stores[0] (acme), `domain`/`api_url`",
        ),
        ("{name: acme, domain: 'https://a.com/x', token_env: T, plan: gold}", "(acme), `domain`"),
        ("{name: acme, api_url: 'ftp://a.com', token_env: T, plan: gold}", "(acme), `api_url`"),
        ("{name: acme, domain: a.com, plan: gold}", "(acme), `token_env`/`router`"),
        ("{name: acme, domain: a.com, token_env: 'MY-TOKEN', plan: gold}", "(acme), `token_env`"),
        ("{name: acme, domain: a.com, token_env: T, plan: platinum}", "(acme), `plan`"),
        ("{name: acme, domain: a.com, token_env: T}", "(acme), `plan`"),
        ("{name: acme, domain: a.com, token_env: T, plan: gold, jobs: [get-order]}", "`jobs`"),
        ("{name: acme, domain: a.com, token_env: T, plan: gold, jobs: []}", "(acme), `jobs`"),
        ("{name: acme, domain: a.com, token: abc, plan: gold}", "(acme), `token`"),
        (
            "{name: acme, domain: a.com, router: {site_id: 1, user_name_env: U}, plan: gold}",
            "(acme), `router.user_secret_env`",
        ),
        (
            "{name: acme, domain: a.com, token_env: T, plan: gold,"
            " env: {TAP_CARTCOM_ACCESS_TOKEN: x}}",
            "(acme), `env.TAP_CARTCOM_ACCESS_TOKEN`",
        ),
    ],
)
def test_errors_name_the_entry_and_field(tmp_path: Path, entry: str, where: str) -> None:
    """Each malformed entry is refused with its index, its name and the field."""
    with pytest.raises(StoresFileError) as err:
        _load(tmp_path, f"stores:\n  - {entry}\n")
    assert where in str(err.value)
    assert str(tmp_path / "stores.yml") in str(err.value)


def test_a_token_written_in_the_file_is_not_echoed(tmp_path: Path) -> None:
    """A token pasted into the file is refused without repeating it."""
    with pytest.raises(StoresFileError) as err:
        _load(tmp_path, "stores:\n  - {name: a, domain: a.com, token: s3cr3t-value, plan: gold}\n")
    assert "s3cr3t-value" not in str(err.value)
    assert "token_env" in str(err.value)


def test_duplicate_names_and_bad_yaml(tmp_path: Path) -> None:
    """Two stores of one name, a file that is not YAML, a file without stores."""
    with pytest.raises(StoresFileError, match=r"stores\[1\] \(a\), `name`: is used"):
        _load(
            tmp_path,
            "stores:\n  - {name: a, domain: a.com, token_env: T, plan: gold}\n"
            "  - {name: a, domain: b.com, token_env: U, plan: gold}\n",
        )
    with pytest.raises(StoresFileError, match="not valid YAML"):
        _load(tmp_path, "stores: [\n")
    with pytest.raises(StoresFileError, match="`stores`"):
        _load(tmp_path, "shops: []\n")


def test_options_and_defaults(tmp_path: Path) -> None:
    """Relative folders are taken from the file's folder; env values become strings."""
    config = _load(
        tmp_path,
        "output_dir: out\nretries: {max_retries: 2, delay_seconds: 5}\nschedules: running\n"
        "stores:\n  - {name: a, api_url: 'http://127.0.0.1:1/api/v1', token_env: T, plan: steel,"
        " env: {TAP_CARTCOM_WINDOW_SECONDS: 1, TARGET_CARTCOM_DRY_RUN: true}}\n",
    )
    assert config.output_dir == tmp_path / "out"
    assert config.retries.max_retries == 2
    assert config.retries.delay_seconds == 5.0
    assert config.schedules_running
    assert config.stores[0].env == {
        "TAP_CARTCOM_WINDOW_SECONDS": "1",
        "TARGET_CARTCOM_DRY_RUN": "true",
    }
    assert config.stores[0].jobs == tuple(JOBS)
