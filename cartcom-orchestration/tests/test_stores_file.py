"""The stores file: what it accepts, and errors that name the entry and the field."""

import re
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
        # Matched whole: a trailing newline is not part of a name.
        ('{name: "acme\\n", domain: a.com, token_env: T, plan: gold}', "stores[0], `name`"),
        ('{name: acme, domain: a.com, token_env: "T\\n", plan: gold}', "(acme), `token_env`"),
        ('{name: acme, domain: "a.com\\n", token_env: T, plan: gold}', "(acme), `domain`"),
        ("{name: acme, domain: 'a.com:99999', token_env: T, plan: gold}", "(acme), `domain`"),
        ("{name: acme, api_url: 'https://a.com:0/api/v1', token_env: T, plan: gold}", "`api_url`"),
        # A job name that is not text (a nested list) names the field, not a TypeError.
        ("{name: acme, domain: a.com, token_env: T, plan: gold, jobs: [[get-orders]]}", "`jobs`"),
        (
            "{name: acme, domain: a.com, token_env: T, plan: gold, jobs: [get-orders, get-orders]}",
            "(acme), `jobs`: lists a job twice",
        ),
        (
            "{name: acme, domain: a.com, token_env: T, plan: gold,"
            " router: {site_id: 1, user_name_env: U, user_secret_env: S}}",
            "(acme), `token_env`/`router`: give exactly one",
        ),
        # The call budget comes from `plan`; Meltano's settings are the orchestration's.
        (
            "{name: acme, domain: a.com, token_env: T, plan: gold,"
            " env: {TAP_CARTCOM_CALLS_PER_WINDOW: 500}}",
            "(acme), `env.TAP_CARTCOM_CALLS_PER_WINDOW`: the call budget comes from `plan`",
        ),
        (
            "{name: acme, api_url: 'https://a.com/api/v1', token_env: T, plan: gold,"
            " env: {target_cartcom_window_seconds: 1}}",
            "(acme), `env.target_cartcom_window_seconds`: the call budget comes from `plan`",
        ),
        (
            "{name: acme, api_url: 'http://127.0.0.1:8600/api/v1', token_env: T, plan: gold,"
            " env: {MELTANO_SYS_DIR_ROOT: /tmp/shared}}",
            "(acme), `env.MELTANO_SYS_DIR_ROOT`: Meltano's settings are the orchestration's",
        ),
        (
            "{name: acme, domain: a.com, token_env: T, plan: gold,"
            " env: {MELTANO_DATABASE_URI: 'sqlite:///x.db'}}",
            "(acme), `env.MELTANO_DATABASE_URI`",
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


@pytest.mark.parametrize(
    ("first", "second", "where"),
    [
        ("domain: shop.com", "domain: SHOP.com", "stores[1] (b), `domain`"),
        ("domain: shop.com", "api_url: 'https://shop.com:443/api/v1/'", "stores[1] (b), `api_url`"),
        (
            "api_url: 'http://127.0.0.1:8600/api/v1'",
            "api_url: 'http://127.0.0.1:8600/api/v1'",
            "stores[1] (b), `api_url`",
        ),
        (
            "domain: one.com, router: {site_id: 12, user_name_env: U, user_secret_env: S}",
            "domain: two.com, router: {site_id: '12', user_name_env: U, user_secret_env: S}",
            "stores[1] (b), `router.site_id`",
        ),
        (
            "domain: shop.com",
            "domain: shop.com, router: {site_id: 7, user_name_env: U, user_secret_env: S}",
            "stores[1] (b), `domain`",
        ),
    ],
)
def test_one_store_listed_twice_is_refused(tmp_path: Path, first, second, where) -> None:
    """Two names for one store would get two pools: refused, naming the entry and the field."""
    token = "token_env: T, " if "router" not in first else ""
    token2 = "token_env: U, " if "router" not in second else ""
    with pytest.raises(StoresFileError) as err:
        _load(
            tmp_path,
            f"stores:\n  - {{name: a, {first}, {token}plan: gold}}\n"
            f"  - {{name: b, {second}, {token2}plan: gold}}\n",
        )
    assert where in str(err.value)
    assert "the same store as stores[0] (a)" in str(err.value)


def test_different_stores_on_one_router_or_one_host_are_accepted(tmp_path: Path) -> None:
    """One router for many site ids, two sandboxes on one host: different stores."""
    config = _load(
        tmp_path,
        "stores:\n"
        "  - {name: a, router: {site_id: 1, user_name_env: U, user_secret_env: S}, plan: gold}\n"
        "  - {name: b, router: {site_id: 2, user_name_env: U, user_secret_env: S}, plan: gold}\n"
        "  - {name: c, api_url: 'http://127.0.0.1:8601/api/v1', token_env: T, plan: gold}\n"
        "  - {name: d, api_url: 'http://127.0.0.1:8602/api/v1', token_env: T, plan: gold,"
        " env: {TAP_CARTCOM_CALLS_PER_WINDOW: 10, TARGET_CARTCOM_WINDOW_SECONDS: 1}}\n",
    )
    assert [s.name for s in config.stores] == ["a", "b", "c", "d"]
    assert config.stores[3].env["TAP_CARTCOM_CALLS_PER_WINDOW"] == "10"  # a local sandbox


@pytest.mark.parametrize("delay", [".inf", "-.inf", ".nan", "-1", "true"])
def test_a_retry_delay_must_be_a_finite_number(tmp_path: Path, delay: str) -> None:
    """``delay_seconds: .inf`` would park a failed run forever."""
    with pytest.raises(StoresFileError, match=r"`retries\.delay_seconds`: must be a number"):
        _load(
            tmp_path,
            f"retries: {{delay_seconds: {delay}}}\n"
            "stores:\n  - {name: a, domain: a.com, token_env: T, plan: gold}\n",
        )


def test_no_retry_at_all_is_allowed(tmp_path: Path) -> None:
    """``max_retries: 0``: a failed run is not tried again (and -1 is refused)."""
    config = _load(
        tmp_path,
        "retries: {max_retries: 0, delay_seconds: 0}\n"
        "stores:\n  - {name: a, domain: a.com, token_env: T, plan: gold}\n",
    )
    assert (config.retries.max_retries, config.retries.delay_seconds) == (0, 0.0)
    with pytest.raises(StoresFileError, match=r"`retries\.max_retries`"):
        _load(
            tmp_path,
            "retries: {max_retries: -1}\n"
            "stores:\n  - {name: a, domain: a.com, token_env: T, plan: gold}\n",
        )


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


# -- the edges of each check (issue 26's mutation survivors) -----------------------------------
GOOD = "name: acme, token_env: T, plan: gold"


@pytest.mark.parametrize(
    ("address", "accepted"),
    [
        ("domain: 'a.com:1'", True),
        ("domain: 'a.com:65535'", True),
        ("domain: 'a.com:0'", False),
        ("domain: 'a.com:65536'", False),
        ("api_url: 'https://a.com:65535/api/v1'", True),
        ("api_url: 'https://a.com:http/api/v1'", False),
        ("api_url: 'https:///api/v1'", False),
    ],
)
def test_ports_from_1_to_65535_and_a_host_are_required(tmp_path: Path, address, accepted) -> None:
    """A store's address has a host and, if any, a port a TCP connection can use."""
    text = f"stores:\n  - {{{GOOD}, {address}}}\n"
    if accepted:
        assert _load(tmp_path, text).stores[0].name == "acme"
        return
    field = address.split(":")[0]
    with pytest.raises(StoresFileError, match=rf"\(acme\), `{field}`"):
        _load(tmp_path, text)


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ("env: {my-var: 1}", "(acme), `env`"),
        ("env: {COLOUR: [red]}", "(acme), `env.COLOUR`: must be a string or a number"),
        ("env: {COLOUR: null}", "(acme), `env.COLOUR`: must be a string or a number"),
    ],
)
def test_env_names_and_values_are_checked(tmp_path: Path, extra: str, where: str) -> None:
    """An environment variable needs a valid name and a text or number value."""
    with pytest.raises(StoresFileError) as err:
        _load(tmp_path, f"stores:\n  - {{{GOOD}, domain: a.com, {extra}}}\n")
    assert where in str(err.value)


@pytest.mark.parametrize(
    ("router", "where"),
    [
        ("{site_id: 1, user_name_env: U, user_secret_env: S, colour: red}", "`router.colour`"),
        ("{site_id: true, user_name_env: U, user_secret_env: S}", "`router.site_id`"),
    ],
)
def test_router_fields_are_checked(tmp_path: Path, router: str, where: str) -> None:
    """An unknown router field, or a site id that is a flag, is refused naming it."""
    with pytest.raises(StoresFileError, match=rf"\(acme\), {re.escape(where)}"):
        _load(tmp_path, f"stores:\n  - {{name: acme, plan: gold, router: {router}}}\n")


@pytest.mark.parametrize(
    ("top", "where"),
    [
        ("retries: 5\n", "`retries`: must be a mapping"),
        ("retries: {max_retry: 1}\n", "`retries`: must be a mapping"),
        ("retries: {max_retries: true}\n", "`retries.max_retries`"),
        ("environment: 5\n", "`environment`: must be the name of a Meltano environment"),
        ("colour: red\n", "`colour`: unknown field"),
    ],
)
def test_file_level_fields_are_checked(tmp_path: Path, top: str, where: str) -> None:
    """Retries, environment and unknown fields of the file itself are refused naming them."""
    with pytest.raises(StoresFileError) as err:
        _load(tmp_path, f"{top}stores:\n  - {{{GOOD}, domain: a.com}}\n")
    assert where in str(err.value)


def test_only_a_field_named_like_a_token_gets_the_token_env_hint(tmp_path: Path) -> None:
    """``api_token: ...`` is told to use token_env; ``colour: red`` is just an unknown field."""
    hint = "put the token in an environment variable"
    with pytest.raises(StoresFileError, match=hint):
        _load(tmp_path, f"stores:\n  - {{{GOOD}, domain: a.com, api_token: x}}\n")
    with pytest.raises(StoresFileError) as err:
        _load(tmp_path, f"stores:\n  - {{{GOOD}, domain: a.com, colour: red}}\n")
    assert "(acme), `colour`: unknown field" in str(err.value)
    assert hint not in str(err.value)


def test_defaults_without_retries_or_schedules(tmp_path: Path) -> None:
    """No `retries`: 3 retries 60 s apart; no `schedules`: stopped; a token store's secret."""
    config = _load(tmp_path, f"stores:\n  - {{{GOOD}, domain: a.com}}\n")
    assert (config.retries.max_retries, config.retries.delay_seconds) == (3, 60.0)
    assert config.schedules_running is False
    assert config.stores[0].secret_vars == ("T",)


def test_the_scheme_default_port_is_the_same_store(tmp_path: Path) -> None:
    """``http://shop.com`` and ``http://shop.com:80`` are one store: refused."""
    with pytest.raises(StoresFileError, match=r"stores\[1\] \(b\), `api_url`"):
        _load(
            tmp_path,
            "stores:\n  - {name: a, api_url: 'http://shop.com/api/v1', token_env: T, plan: gold}\n"
            "  - {name: b, api_url: 'http://shop.com:80/api/v1', token_env: U, plan: gold}\n",
        )


def test_a_sandbox_on_localhost_may_set_its_call_budget(tmp_path: Path) -> None:
    """``localhost`` is this machine: a sandbox there may narrow the budget in `env`."""
    config = _load(
        tmp_path,
        "stores:\n  - {name: a, api_url: 'http://localhost:8600/api/v1', token_env: T,"
        " plan: gold, env: {TAP_CARTCOM_CALLS_PER_WINDOW: 10}}\n",
    )
    assert config.stores[0].env == {"TAP_CARTCOM_CALLS_PER_WINDOW": "10"}


def test_the_stores_file_is_found_by_its_variable_or_beside_meltano_yml(
    tmp_path: Path, monkeypatch
) -> None:
    """``$CARTCOM_STORES_FILE`` (``~`` expanded), else stores.yml in the project folder."""
    from cartcom_orchestration.stores import default_path

    monkeypatch.delenv("CARTCOM_STORES_FILE", raising=False)
    assert default_path(tmp_path) == tmp_path / "stores.yml"
    monkeypatch.setenv("CARTCOM_STORES_FILE", "~/shops.yml")
    assert default_path(tmp_path) == Path.home() / "shops.yml"


def test_a_store_wanting_webhooks_needs_the_receivers_address(tmp_path: Path) -> None:
    """Webhooks for a store, and no top-level ``webhooks.receiver_url``: refused, naming both."""
    text = (
        "stores: [{name: a, domain: a.com, token_env: T, plan: gold},\n"
        "  {name: b, domain: b.com, token_env: U, plan: gold, webhooks: {secret_env: S}}]"
    )
    with pytest.raises(StoresFileError, match=r"stores\[1\] \(b\), `webhooks`.*receiver_url"):
        _load(tmp_path, text)
