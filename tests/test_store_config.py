"""The TOML config store: layout, defaults, checks, dotted keys, atomic writes."""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from pathlib import Path

import pytest

from meetzy_numbers.errors import ExitCode, NotFound, UsageError
from meetzy_numbers.store.atomic import write_atomic
from meetzy_numbers.store.config import (
    Agent,
    Config,
    ConfigStore,
    HealthThresholds,
    config_to_dict,
)

MAIN = "AC" + "1" * 32
SPAIN = "AC" + "a" * 32
API_KEY = "SK" + "b" * 32


@pytest.fixture
def store(tmp_path: Path) -> ConfigStore:
    return ConfigStore(tmp_path / "home" / "config.toml")


def write(store: ConfigStore, text: str) -> None:
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text(text, encoding="utf-8")


def full_config() -> Config:
    return Config(
        main_account=MAIN,
        webhook_base="https://voice.meetzy.example",
        agents={
            "sales-es": Agent(id="sales-es", name="Sales Team"),
            "support_mx": Agent(id="support_mx", name="Soporte México"),
        },
        aliases={"spain": SPAIN, "mx-ops": MAIN},
        cache_ttl=60,
        concurrency=4,
        timeout=5.5,
        health=HealthThresholds(window_days=14, min_calls=20, spam_answer_rate=0.2),
    )


def test_missing_file_gives_defaults(store: ConfigStore) -> None:
    assert store.load() == Config()
    assert not store.path.exists()


def test_round_trip_keeps_everything(store: ConfigStore) -> None:
    config = full_config()
    store.save(config)

    assert store.load() == config
    text = store.path.read_text(encoding="utf-8")
    assert "[agents.sales-es]" in text
    assert "[aliases]" in text
    assert "[health]" in text
    assert tomllib.loads(text)["agents"]["sales-es"] == {"name": "Sales Team"}


def test_config_to_dict_is_the_show_layout() -> None:
    data = config_to_dict(full_config())

    assert list(data) == [
        "main_account",
        "webhook_base",
        "cache_ttl",
        "concurrency",
        "timeout",
        "aliases",
        "agents",
        "health",
    ]
    assert data["agents"] == {
        "sales-es": {"name": "Sales Team"},
        "support_mx": {"name": "Soporte México"},
    }
    assert config_to_dict(Config())["main_account"] is None


def test_not_toml_names_the_file_and_line(store: ConfigStore) -> None:
    write(store, 'cache_ttl = 60\nwebhook_base = "https://x\n')

    with pytest.raises(UsageError) as caught:
        store.load()

    assert caught.value.exit_code == ExitCode.USAGE
    assert caught.value.message.startswith(
        f"config file {store.path} is not valid TOML: line 2, column "
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('cache_ttl = "900"', "cache_ttl must be an integer, not the string '900'"),
        ("cache_ttl = true", "cache_ttl must be an integer, not the boolean true"),
        ("cache_ttl = -1", "cache_ttl must be 0 or more, not -1"),
        ("concurrency = 0", "concurrency must be between 1 and 64, not 0"),
        ("concurrency = 65", "concurrency must be between 1 and 64, not 65"),
        ('timeout = "fast"', "timeout must be a number, not the string 'fast'"),
        ("timeout = 0", "timeout must be more than 0 seconds"),
        (
            f'main_account = "{API_KEY}"',
            f"main_account: {API_KEY} is an API key SID, not an account SID (AC…)",
        ),
        (
            'main_account = "AC123"',
            "main_account must be an account SID (AC followed by 32 hex digits), "
            "not 'AC123'",
        ),
        (
            'webhook_base = "ftp://voice.example"',
            "webhook_base must be an http(s) URL such as "
            "https://voice.meetzy.example, not 'ftp://voice.example'",
        ),
        (
            '[agents."sales/es"]\nname = "Sales"',
            "agents.sales/es: agent id 'sales/es' is not valid",
        ),
        ("[agents.sales]\nname = 3", "agents.sales.name must be a string"),
        ('agents = "sales"', "agents must be a table, not the string 'sales'"),
        ("aliases = 3", "aliases must be a table, not the number 3"),
        ('[aliases]\nspain = "nope"', "aliases.spain must be an account SID"),
        ("[health]\nmin_calls = 1.5", "health.min_calls must be an integer"),
        (
            "[health]\nwarning_answer_rate = 2",
            "health.warning_answer_rate must be between 0 and 1, not 2",
        ),
        (
            "[health]\nspam_answer_rate = 0.6",
            "health.spam_answer_rate (0.6) must not be above "
            "health.warning_answer_rate (0.5)",
        ),
    ],
)
def test_bad_values_name_the_file_and_key(
    store: ConfigStore, text: str, message: str
) -> None:
    write(store, text + "\n")

    with pytest.raises(UsageError) as caught:
        store.load()

    assert caught.value.message.startswith(f"config file {store.path}: {message}")


def test_unknown_keys_warn_and_survive_a_change(
    store: ConfigStore, caplog: pytest.LogCaptureFixture
) -> None:
    write(
        store,
        'colour = "blue"\n'
        "[health]\nnew_rule = 3\n"
        '[agents.sales]\nname = "S"\nteam = 2\n',
    )

    with caplog.at_level(logging.WARNING, logger="meetzy_numbers.store.config"):
        assert store.load().agents == {"sales": Agent(id="sales", name="S")}
    warned = [record.getMessage() for record in caplog.records]
    assert warned == [
        f"config file {store.path}: unknown key 'colour' ignored",
        f"config file {store.path}: unknown key 'health.new_rule' ignored",
        f"config file {store.path}: unknown key 'agents.sales.team' ignored",
    ]

    store.set("cache_ttl", "30")
    raw = tomllib.loads(store.path.read_text(encoding="utf-8"))
    assert raw["colour"] == "blue"
    assert raw["health"]["new_rule"] == 3
    assert raw["agents"]["sales"] == {"name": "S", "team": 2}
    assert raw["cache_ttl"] == 30


def test_set_coerces_and_get_reads_back(store: ConfigStore) -> None:
    store.set("cache_ttl", "60")
    store.set("timeout", "2.5")
    store.set("concurrency", " 16 ")
    store.set("health.min_calls", "5")
    store.set("health.spam_short_share", "0.75")
    store.set("webhook_base", "https://voice.meetzy.example/")
    store.set("main_account", MAIN)
    store.set("aliases.spain", SPAIN)
    config = store.set("agents.sales-es.name", "Sales Team")

    assert config == store.load()
    assert store.get("cache_ttl") == 60
    assert store.get("timeout") == 2.5
    assert store.get("concurrency") == 16
    assert store.get("health.min_calls") == 5
    assert store.get("health.spam_short_share") == 0.75
    assert store.get("webhook_base") == "https://voice.meetzy.example"
    assert store.get("main_account") == MAIN
    assert store.get("aliases.spain") == SPAIN
    assert store.get("agents.sales-es.name") == "Sales Team"
    assert store.get("agents.sales-es") == {"name": "Sales Team"}
    assert store.get("health")["window_days"] == 7  # type: ignore[index]


def test_unset_restores_defaults_and_drops_entries(store: ConfigStore) -> None:
    store.save(full_config())

    store.unset("cache_ttl")
    store.unset("health.window_days")
    store.unset("aliases.spain")
    config = store.unset("agents.support_mx")

    assert config.cache_ttl == 900
    assert config.health.window_days == 7
    assert config.health.min_calls == 20
    assert config.aliases == {"mx-ops": MAIN}
    assert list(config.agents) == ["sales-es"]
    assert store.load() == config


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.get("colour"), UsageError, "unknown config key 'colour'"),
        (lambda s: s.get("health.nope"), UsageError, "unknown config key"),
        (lambda s: s.get("aliases.nope"), NotFound, "no alias 'nope' in the config"),
        (lambda s: s.unset("aliases.nope"), NotFound, "no alias 'nope'"),
        (lambda s: s.set("cache_ttl", "soon"), UsageError, "cache_ttl must be a "),
        (lambda s: s.set("timeout", "x"), UsageError, "timeout must be a number"),
        (lambda s: s.set("concurrency", "0"), UsageError, "concurrency must be "),
        (lambda s: s.set("main_account", API_KEY), UsageError, "main_account: SK"),
        (lambda s: s.set("health", "1"), UsageError, "health is a section"),
        (lambda s: s.set("aliases.spain", "x"), UsageError, "aliases.spain must"),
        (lambda s: s.unset("agents.sales-es.name"), UsageError, "needs a name"),
    ],
)
def test_dotted_key_errors(
    store: ConfigStore, call: object, error: type[Exception], message: str
) -> None:
    store.save(full_config())
    before = store.path.read_bytes()

    with pytest.raises(error) as caught:
        call(store)  # type: ignore[operator]

    assert message in str(caught.value)
    assert store.path.read_bytes() == before


def test_unknown_key_lists_valid_keys(store: ConfigStore) -> None:
    with pytest.raises(UsageError) as caught:
        store.get("cache.ttl")

    message = caught.value.message
    assert message.startswith(
        "unknown config key 'cache.ttl'; valid keys: main_account, webhook_base, "
    )
    assert "health.min_calls" in message
    assert message.endswith("aliases.<name>, agents.<id>.name")


def test_add_and_remove_agents(store: ConfigStore) -> None:
    config = store.add_agent("sales-es", "Sales Team")
    assert config.agents == {"sales-es": Agent(id="sales-es", name="Sales Team")}

    with pytest.raises(UsageError, match="already in the config"):
        store.add_agent("sales-es", "Again")
    with pytest.raises(UsageError, match="agent id 'Sales/ES' is not valid"):
        store.add_agent("Sales/ES", "Bad")
    with pytest.raises(NotFound) as caught:
        store.remove_agent("ghost")
    assert caught.value.exit_code == ExitCode.NOT_FOUND

    assert store.remove_agent("sales-es").agents == {}
    assert store.load().agents == {}


def test_saves_leave_no_temporary_files(store: ConfigStore) -> None:
    for ttl in range(5):
        store.set("cache_ttl", str(ttl))

    names = sorted(path.name for path in store.path.parent.iterdir())
    assert names == ["config.toml", "config.toml.lock"]


def test_failed_replace_keeps_old_file_and_cleans_up(
    store: ConfigStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save(full_config())
    before = store.path.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.set("cache_ttl", "1")

    assert store.path.read_bytes() == before
    assert not list(store.path.parent.glob(".*.tmp"))


def test_write_atomic_modes(tmp_path: Path) -> None:
    secret = tmp_path / "deep" / "secret.json"
    write_atomic(secret, "{}", mode=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600

    # Without a mode, a rewrite keeps the mode the file already had.
    write_atomic(secret, b"[]")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert secret.read_bytes() == b"[]"
