"""Everything a command needs, built once per run, with Twilio reached lazily.

Building the gateway imports twilio-python, which costs more than the rest of
start-up together; a cached ``list`` or ``--help`` never gets that far.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from meetzy_numbers.errors import CredentialsError
from meetzy_numbers.paths import Paths
from meetzy_numbers.store.cache import Cache
from meetzy_numbers.store.config import Config, ConfigStore
from meetzy_numbers.store.credentials import (
    CredentialBackend,
    CredentialStore,
    FileBackend,
    KeyringBackend,
)
from meetzy_numbers.store.journal import Journal, JournalEntry

if TYPE_CHECKING:
    from meetzy_numbers.gateway import Gateway

API_URL_ENV = "MEETZY_NUMBERS_API_URL"
SANDBOX_ENV = "MEETZY_NUMBERS_SANDBOX"


@dataclass
class Context:
    paths: Paths
    sandbox: bool = False
    api_url: str | None = None
    refresh: bool = False
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    _pending: dict[str, tuple[dict[str, dict[str, Any]], set[str]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _pending_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False
    )

    def cache_later(
        self,
        account_sid: str,
        *,
        updated: dict[str, Any] | None = None,
        removed: str | None = None,
    ) -> None:
        """Note a changed or released number for the cache, written in one go
        by :meth:`flush_cache`: rewriting a 10,000-number file per change
        would cost more than the change."""
        with self._pending_lock:
            if account_sid not in self._pending:
                self.cache.mark_dirty(account_sid)
                self._pending[account_sid] = ({}, set())
            records, gone = self._pending[account_sid]
            if updated is not None:
                records[updated["sid"]] = updated
                gone.discard(updated["sid"])
            if removed is not None:
                gone.add(removed)
                records.pop(removed, None)

    _unfinished: dict[str, JournalEntry] | None = field(
        default=None, init=False, repr=False
    )

    def unfinished_changes(self) -> dict[str, JournalEntry]:
        """Changes a killed run started and never closed, read once per run."""
        with self._pending_lock:
            if self._unfinished is None:
                self._unfinished = self.journal.unfinished()
            return self._unfinished

    def flush_cache(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        for account_sid, (records, gone) in pending.items():
            self.cache.apply(account_sid, list(records.values()), gone)

    @cached_property
    def config_store(self) -> ConfigStore:
        return ConfigStore(self.paths.config_file)

    @cached_property
    def config(self) -> Config:
        if self.sandbox:
            from meetzy_numbers.operations.sandbox import ensure_sandbox

            ensure_sandbox(self.paths)
        return self.config_store.load()

    @cached_property
    def credentials(self) -> CredentialStore:
        backend: CredentialBackend
        if self.sandbox:
            backend = FileBackend(self.paths.data_dir / "credentials.json")
            # The sandbox's accounts are not the user's: ignore TWILIO_* there.
            return CredentialStore(backend, env={})
        backend = KeyringBackend()
        return CredentialStore(backend, env=self.env)

    @cached_property
    def cache(self) -> Cache:
        return Cache(self.paths.cache_dir, self.config.cache_ttl)

    @cached_property
    def journal(self) -> Journal:
        return Journal(self.paths.journal_file)

    @property
    def main_sid(self) -> str:
        sid = self.config.main_account or self.credentials.env_account()
        if (
            not sid
            and self.env.get("TWILIO_ACCOUNT_SID", "").strip()
            and not self.sandbox
        ):
            raise CredentialsError(
                "TWILIO_ACCOUNT_SID is set, but neither TWILIO_AUTH_TOKEN nor "
                "TWILIO_API_KEY with TWILIO_API_SECRET is",
                hint="set the secret that goes with it, or unset TWILIO_ACCOUNT_SID",
            )
        if not sid:
            raise CredentialsError(
                "no main account is configured",
                hint=(
                    "run: meetzy-numbers creds set AC… (it becomes the main "
                    "account), or set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
                ),
            )
        return sid

    @cached_property
    def gateway(self) -> Gateway:
        return self.make_gateway(self.main_sid)

    def make_gateway(self, main_sid: str) -> Gateway:
        """A gateway; ``creds set`` makes one before any main account is known."""
        from meetzy_numbers.gateway import Gateway
        from meetzy_numbers.gateway.http import (
            GatewayHttpClient,
            RequestsTransport,
            SandboxTransport,
            Transport,
        )

        transport: Transport
        if self.sandbox and not self.api_url:
            from meetzy_numbers.gateway.http import sandbox_broken
            from meetzy_numbers.sandbox import Sandbox
            from meetzy_numbers.sandbox.store import StateFileError

            try:
                sandbox = Sandbox(self.paths.sandbox_state_file)
            except (StateFileError, AttributeError, KeyError, TypeError) as error:
                raise sandbox_broken(error) from None
            transport = SandboxTransport(sandbox)
        else:
            transport = RequestsTransport(pool_size=max(16, self.config.concurrency))
        http = GatewayHttpClient(
            transport, base_url=self.api_url, timeout=self.config.timeout
        )
        return Gateway(main_sid=main_sid, credentials=self.credentials, http=http)
