"""What a valid config is: its dataclasses, defaults and checks.

:func:`parse_config` turns plain data (a parsed TOML file, or the result of a
``config set``) into a :class:`Config`, or raises one usage error that names
the dotted key at fault. No file access happens here; see ``store.config``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from meetzy_numbers.errors import UsageError

ACCOUNT_SID_RE = re.compile(r"^AC[0-9a-fA-F]{32}$")
AGENT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# No dots, so ``aliases.<name>`` stays one dotted key.
ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Agent:
    id: str
    name: str


@dataclass(frozen=True)
class HealthThresholds:
    window_days: int = 7
    min_calls: int = 10
    short_call_seconds: int = 10
    warning_answer_rate: float = 0.5
    spam_answer_rate: float = 0.25
    warning_short_share: float = 0.3
    spam_short_share: float = 0.5


@dataclass(frozen=True)
class Config:
    main_account: str | None = None
    webhook_base: str = ""
    agents: dict[str, Agent] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    cache_ttl: int = 900
    concurrency: int = 8
    timeout: float = 15.0
    health: HealthThresholds = field(default_factory=HealthThresholds)


TOP_KEYS = ("main_account", "webhook_base", "cache_ttl", "concurrency", "timeout")
SECTIONS = ("aliases", "agents", "health")
_HEALTH_INTS = ("window_days", "min_calls", "short_call_seconds")
_HEALTH_RATES = (
    "warning_answer_rate",
    "spam_answer_rate",
    "warning_short_share",
    "spam_short_share",
)
HEALTH_KEYS = (*_HEALTH_INTS, *_HEALTH_RATES)
VALID_KEYS: tuple[str, ...] = (
    *TOP_KEYS,
    *(f"health.{name}" for name in HEALTH_KEYS),
    "aliases.<name>",
    "agents.<id>.name",
)


def config_to_dict(config: Config) -> dict[str, object]:
    """The config as plain data: the JSON of ``config show`` and the TOML layout."""
    return {
        "main_account": config.main_account,
        "webhook_base": config.webhook_base,
        "cache_ttl": config.cache_ttl,
        "concurrency": config.concurrency,
        "timeout": config.timeout,
        "aliases": dict(config.aliases),
        "agents": {a.id: {"name": a.name} for a in config.agents.values()},
        "health": dataclasses.asdict(config.health),
    }


def parse_config(raw: dict[str, Any], *, prefix: str) -> Config:
    """Build a :class:`Config` from plain data, or raise a UsageError.

    ``prefix`` starts every message, e.g. ``"config file /x/config.toml: "``.
    """
    main = raw.get("main_account")
    if main is not None:
        main = _check_sid(_check_type(main, str, "main_account", prefix), prefix)
    webhook = _check_type(raw.get("webhook_base", ""), str, "webhook_base", prefix)
    ttl = _check_int(raw.get("cache_ttl", 900), "cache_ttl", prefix, low=0)
    workers = _check_int(raw.get("concurrency", 8), "concurrency", prefix, 1, 64)
    timeout = _check_number(raw.get("timeout", 15.0), "timeout", prefix)
    if timeout <= 0:
        raise UsageError(f"{prefix}timeout must be more than 0 seconds")

    return Config(
        main_account=main,
        webhook_base=_check_webhook(webhook, prefix),
        agents=_parse_agents(raw.get("agents", {}), prefix),
        aliases=_parse_aliases(raw.get("aliases", {}), prefix),
        cache_ttl=ttl,
        concurrency=workers,
        timeout=timeout,
        health=_parse_health(raw.get("health", {}), prefix),
    )


def _parse_agents(value: object, prefix: str) -> dict[str, Agent]:
    table = _check_type(value, dict, "agents", prefix)
    agents: dict[str, Agent] = {}
    for agent_id, entry in table.items():
        key = f"agents.{agent_id}"
        if not AGENT_ID_RE.match(agent_id):
            raise UsageError(f"{prefix}{key}: {agent_id_message(agent_id)}")
        fields_ = _check_type(entry, dict, key, prefix)
        name = _check_type(fields_.get("name", agent_id), str, f"{key}.name", prefix)
        if not name.strip():
            raise UsageError(f"{prefix}{key}.name must not be empty")
        agents[agent_id] = Agent(id=agent_id, name=name.strip())
    return agents


def _parse_aliases(value: object, prefix: str) -> dict[str, str]:
    table = _check_type(value, dict, "aliases", prefix)
    aliases: dict[str, str] = {}
    for alias, sid in table.items():
        key = f"aliases.{alias}"
        if not ALIAS_RE.match(alias):
            raise UsageError(
                f"{prefix}{key}: alias names are letters, digits, '-' and '_'"
            )
        aliases[alias] = _check_sid(_check_type(sid, str, key, prefix), prefix, key)
    return aliases


def _parse_health(value: object, prefix: str) -> HealthThresholds:
    table = _check_type(value, dict, "health", prefix)
    defaults = dataclasses.asdict(HealthThresholds())
    values: dict[str, Any] = {}
    for name in _HEALTH_INTS:
        key = f"health.{name}"
        values[name] = _check_int(table.get(name, defaults[name]), key, prefix, 1)
    for name in _HEALTH_RATES:
        key = f"health.{name}"
        rate = _check_number(table.get(name, defaults[name]), key, prefix)
        if not 0 <= rate <= 1:
            raise UsageError(f"{prefix}{key} must be between 0 and 1, not {rate:g}")
        values[name] = rate
    health = HealthThresholds(**values)

    # A spam verdict is the stronger one, so its bar must sit beyond warning's.
    if health.spam_answer_rate > health.warning_answer_rate:
        raise UsageError(
            f"{prefix}health.spam_answer_rate ({health.spam_answer_rate:g}) must "
            f"not be above health.warning_answer_rate "
            f"({health.warning_answer_rate:g})"
        )
    if health.spam_short_share < health.warning_short_share:
        raise UsageError(
            f"{prefix}health.spam_short_share ({health.spam_short_share:g}) must "
            f"not be below health.warning_short_share "
            f"({health.warning_short_share:g})"
        )
    return health


def _check_type(value: Any, kind: type[Any], key: str, prefix: str) -> Any:
    # bool is an int in Python but never a sensible count or rate here.
    wrong = not isinstance(value, kind)
    if wrong or (isinstance(value, bool) and kind is not bool):
        raise UsageError(
            f"{prefix}{key} must be {_KIND_NAMES[kind]}, not {_describe(value)}"
        )
    return value


def _check_int(
    value: Any, key: str, prefix: str, low: int, high: int | None = None
) -> int:
    number: int = _check_type(value, int, key, prefix)
    if number < low or (high is not None and number > high):
        bounds = f"between {low} and {high}" if high is not None else f"{low} or more"
        raise UsageError(f"{prefix}{key} must be {bounds}, not {number}")
    return number


def _check_number(value: Any, key: str, prefix: str) -> float:
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    number: float = _check_type(value, float, key, prefix)
    if not math.isfinite(number):
        raise UsageError(f"{prefix}{key} must be a finite number, not {number}")
    return number


def _check_sid(value: str, prefix: str, key: str = "main_account") -> str:
    value = value.strip()
    if ACCOUNT_SID_RE.match(value):
        return "AC" + value[2:].lower()
    if value.startswith("SK"):
        raise UsageError(
            f"{prefix}{key}: {value} is an API key SID, not an account SID (AC…)"
        )
    raise UsageError(
        f"{prefix}{key} must be an account SID (AC followed by 32 hex digits), "
        f"not {value!r}"
    )


def _check_webhook(value: str, prefix: str) -> str:
    value = value.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"{prefix}webhook_base must be an http(s) URL such as "
            f"https://voice.meetzy.example, not {value!r}"
        )
    if parts.query or parts.fragment:
        raise UsageError(f"{prefix}webhook_base must not have a query or fragment")
    return value


def coerce_value(key: str, value: str) -> object:
    """Turn a command-line string into the type the key holds."""
    name = key.rsplit(".", 1)[-1]
    text = value.strip()
    if name in ("cache_ttl", "concurrency", *_HEALTH_INTS):
        try:
            return int(text)
        except ValueError:
            raise UsageError(f"{key} must be a whole number, not {value!r}") from None
    if name in ("timeout", *_HEALTH_RATES):
        try:
            return float(text)
        except ValueError:
            raise UsageError(f"{key} must be a number, not {value!r}") from None
    return text


_KIND_NAMES: dict[type[Any], str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    dict: "a table",
}


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def agent_id_message(agent_id: str) -> str:
    return (
        f"agent id {agent_id!r} is not valid: use lowercase letters, digits, "
        "'-' and '_', starting with a letter or digit"
    )
