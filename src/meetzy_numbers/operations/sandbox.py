"""Setting up and resetting the sandbox's own home: config, credentials, state."""

from __future__ import annotations

from meetzy_numbers.paths import Paths
from meetzy_numbers.store.config import Agent, Config, ConfigStore
from meetzy_numbers.store.credentials import (
    CredentialStore,
    FileBackend,
    make_credential,
)


def ensure_sandbox(paths: Paths) -> None:
    """Seed the sandbox home the first time it is used."""
    if not paths.config_file.exists() or not paths.sandbox_state_file.exists():
        reset_sandbox(paths)


def reset_sandbox(paths: Paths) -> None:
    """Restore the seed: Twilio's records, config, credentials; no cache, no journal."""
    from meetzy_numbers.sandbox import SEED, Sandbox

    paths.data_dir.mkdir(parents=True, exist_ok=True)
    Sandbox(paths.sandbox_state_file).reset()

    ConfigStore(paths.config_file).save(
        Config(
            main_account=SEED.main_account_sid,
            webhook_base=SEED.webhook_base,
            agents={agent_id: Agent(agent_id, name) for agent_id, name in SEED.agents},
        )
    )

    credentials_file = paths.data_dir / "credentials.json"
    credentials_file.unlink(missing_ok=True)
    store = CredentialStore(FileBackend(credentials_file), env={})
    for sid, _name, token, has_credentials in SEED.accounts:
        if has_credentials:
            store.set(make_credential(sid, token, source="file"))

    for stale in (paths.journal_file, paths.callerid_state_file):
        stale.unlink(missing_ok=True)
    if paths.cache_dir.exists():
        for cached in paths.cache_dir.glob("*.json"):
            cached.unlink(missing_ok=True)
