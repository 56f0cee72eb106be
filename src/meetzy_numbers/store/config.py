"""The TOML config file: main account, webhook base, agents, aliases, tuning.

The file is read with ``tomllib`` and written with ``tomli_w``, always
atomically. Every value is checked on load, so a typo surfaces as one usage
error naming the file and the dotted key rather than as a crash later on.
Keys the tool does not know are kept on save and only warned about: they may
belong to a newer version of the tool.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from meetzy_numbers.errors import NotFound, UsageError
from meetzy_numbers.store.atomic import file_lock, write_atomic
from meetzy_numbers.store.config_schema import (
    AGENT_ID_RE,
    HEALTH_KEYS,
    SECTIONS,
    TOP_KEYS,
    VALID_KEYS,
    Agent,
    Config,
    HealthThresholds,
    agent_id_message,
    coerce_value,
    config_to_dict,
    parse_config,
)

__all__ = [
    "Agent",
    "Config",
    "ConfigStore",
    "HealthThresholds",
    "config_to_dict",
    "parse_config",
]

log = logging.getLogger(__name__)

_HEADER = "# meetzy-numbers config: edit by hand or with `meetzy-numbers config set`\n"


class ConfigStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Config:
        """The config in the file, or the defaults when there is no file."""
        raw = self._read_raw()
        for key in _unknown_keys(_unknown_parts(raw)):
            log.warning("config file %s: unknown key %r ignored", self.path, key)
        return parse_config(raw, prefix=f"config file {self.path}: ")

    def save(self, config: Config) -> None:
        """Write ``config`` atomically, keeping any keys this version ignores."""
        with file_lock(self.path):
            try:
                unknown = _unknown_parts(self._read_raw())
            except UsageError:
                unknown = {}  # an unreadable file is being replaced wholesale
            self._write(config, unknown)

    def get(self, key: str) -> object:
        data: object = config_to_dict(self.load())
        parts = _split_key(key)
        for depth, part in enumerate(parts):
            if not isinstance(data, dict):
                raise _unknown_key(key)
            if part not in data:
                raise _missing(parts[: depth + 1], key)
            data = data[part]
        return data

    def set(self, key: str, value: str) -> Config:
        """Parse ``value`` to the key's type, check it, save, return the result."""
        parts = _split_key(key)
        with file_lock(self.path):
            raw, data = self._load_for_change()
            if parts[0] in TOP_KEYS and len(parts) == 1:
                data[parts[0]] = coerce_value(parts[0], value)
            elif parts[0] == "health" and len(parts) == 2:
                data["health"][parts[1]] = coerce_value(key, value)
            elif parts[0] == "aliases" and len(parts) == 2:
                data["aliases"][parts[1]] = value.strip()
            elif parts[0] == "agents" and len(parts) == 3:
                data["agents"].setdefault(parts[1], {})["name"] = value
            else:
                raise UsageError(
                    f"{key} is a section, not a value; set one of its keys",
                    hint=_valid_keys_hint(),
                )
            return self._commit(raw, data)

    def unset(self, key: str) -> Config:
        """Put a value back to its default, or drop an alias or agent."""
        parts = _split_key(key)
        with file_lock(self.path):
            raw, data = self._load_for_change()
            if parts[0] in TOP_KEYS and len(parts) == 1:
                data.pop(parts[0])
            elif parts[0] == "health" and len(parts) == 2:
                data["health"].pop(parts[1])
            elif parts[0] in ("aliases", "agents") and len(parts) == 2:
                if parts[1] not in data[parts[0]]:
                    raise _missing(parts, key)
                del data[parts[0]][parts[1]]
            elif parts[0] == "agents" and len(parts) == 3:
                raise UsageError(
                    f"an agent needs a name; to drop agent {parts[1]!r} "
                    f"unset agents.{parts[1]} or remove the agent"
                )
            else:
                raise UsageError(
                    f"{key} is a section; unset one of its keys",
                    hint=_valid_keys_hint(),
                )
            return self._commit(raw, data)

    def add_agent(self, agent_id: str, name: str) -> Config:
        if not AGENT_ID_RE.match(agent_id):
            raise UsageError(agent_id_message(agent_id))
        with file_lock(self.path):
            raw, data = self._load_for_change()
            if agent_id in data["agents"]:
                raise UsageError(f"agent {agent_id!r} is already in the config")
            data["agents"][agent_id] = {"name": name}
            return self._commit(raw, data)

    def remove_agent(self, agent_id: str) -> Config:
        with file_lock(self.path):
            raw, data = self._load_for_change()
            if agent_id not in data["agents"]:
                raise NotFound(f"agent {agent_id!r} is not in the config")
            del data["agents"][agent_id]
            return self._commit(raw, data)

    # -- file access ------------------------------------------------------

    def _read_raw(self) -> dict[str, Any]:
        try:
            content = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise UsageError(
                f"config file {self.path} cannot be read: {exc.strerror}"
            ) from None

        import tomllib  # only paid for when there is a file to read

        try:
            return tomllib.loads(content.decode("utf-8"))
        except UnicodeDecodeError:
            reason = "it is not UTF-8 text"
        except tomllib.TOMLDecodeError as exc:
            reason = _toml_reason(str(exc))
        raise UsageError(f"config file {self.path} is not valid TOML: {reason}")

    def _load_for_change(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The raw file and the validated config as editable plain data."""
        raw = self._read_raw()
        config = parse_config(raw, prefix=f"config file {self.path}: ")
        return raw, config_to_dict(config)

    def _commit(self, raw: dict[str, Any], data: dict[str, Any]) -> Config:
        config = parse_config(data, prefix="")
        self._write(config, _unknown_parts(raw))
        return config

    def _write(self, config: Config, unknown: dict[str, Any]) -> None:
        import tomli_w

        document = _toml_layout(config)
        _merge_unknown(document, unknown)
        write_atomic(self.path, _HEADER + tomli_w.dumps(document))


# -- dotted keys ------------------------------------------------------------


def _split_key(key: str) -> tuple[str, ...]:
    parts = tuple(key.strip().split("."))
    head = parts[0]
    shapes_ok = (
        (head in TOP_KEYS and len(parts) == 1)
        or (head == "health" and len(parts) == 1)
        or (head == "health" and len(parts) == 2 and parts[1] in HEALTH_KEYS)
        or (head == "aliases" and len(parts) in (1, 2))
        or (head == "agents" and len(parts) in (1, 2))
        or (head == "agents" and len(parts) == 3 and parts[2] == "name")
    )
    if not shapes_ok or any(not part for part in parts):
        raise _unknown_key(key)
    return parts


def _unknown_key(key: str) -> UsageError:
    return UsageError(f"unknown config key {key!r}; {_valid_keys_hint()}")


def _valid_keys_hint() -> str:
    return "valid keys: " + ", ".join(VALID_KEYS)


def _missing(parts: tuple[str, ...], key: str) -> NotFound:
    if parts[0] == "aliases":
        return NotFound(f"no alias {parts[1]!r} in the config")
    return NotFound(f"agent {parts[1]!r} is not in the config ({key})")


def _toml_reason(message: str) -> str:
    """Put tomllib's "(at line 3, column 5)" first, where a reader looks."""
    match = re.search(r"^(.*) \(at line (\d+), column (\d+)\)$", message)
    if not match:
        return message
    text, line, column = match.groups()
    return f"line {line}, column {column}: {text}"


# -- layout and unknown keys ---------------------------------------------------


def _toml_layout(config: Config) -> dict[str, Any]:
    document = config_to_dict(config)
    # TOML has no null, and empty tables only add noise to the file.
    return {
        key: value
        for key, value in document.items()
        if value is not None and value != {}
    }


def _unknown_parts(raw: dict[str, Any]) -> dict[str, Any]:
    """The keys of a raw config this version does not understand, nested."""
    unknown = {
        key: value
        for key, value in raw.items()
        if key not in TOP_KEYS and key not in SECTIONS
    }
    health = raw.get("health")
    if isinstance(health, dict):
        extra = {k: v for k, v in health.items() if k not in HEALTH_KEYS}
        if extra:
            unknown["health"] = extra
    agents = raw.get("agents")
    if isinstance(agents, dict):
        per_agent = {
            agent_id: {k: v for k, v in entry.items() if k != "name"}
            for agent_id, entry in agents.items()
            if isinstance(entry, dict) and set(entry) - {"name"}
        }
        if per_agent:
            unknown["agents"] = per_agent
    return unknown


def _merge_unknown(document: dict[str, Any], unknown: dict[str, Any]) -> None:
    for key, value in unknown.items():
        if key == "health":
            document.setdefault("health", {}).update(value)
        elif key == "agents":
            agents = document.get("agents", {})
            # Extra keys of an agent that was just removed go with it.
            for agent_id, extra in value.items():
                if agent_id in agents:
                    agents[agent_id].update(extra)
        else:
            document[key] = value


def _unknown_keys(unknown: dict[str, Any]) -> list[str]:
    """The dotted names of what :func:`_unknown_parts` found, for warnings."""
    keys: list[str] = []
    for key, value in unknown.items():
        if key == "health":
            keys.extend(f"health.{name}" for name in value)
        elif key == "agents":
            keys.extend(
                f"agents.{agent_id}.{name}"
                for agent_id, extra in value.items()
                for name in extra
            )
        else:
            keys.append(key)
    return keys
