"""A keyring backend in a JSON file, so the benchmark's tool runs have a keyring.

The machines benchmarks run on usually have no OS keyring, and managing a
subaccount needs that subaccount's own credentials (stored with
`meetzy-numbers creds set`). The benchmark points the tool at this backend with
`PYTHON_KEYRING_BACKEND=bench_keyring.FileKeyring`, `PYTHONPATH=benchmarks/` and
`BENCH_KEYRING_FILE=<path>`; the secrets are the sandbox's worthless ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

FILE_ENV = "BENCH_KEYRING_FILE"


class FileKeyring(KeyringBackend):
    priority = 1  # a class constant stands in for the classproperty

    def _path(self) -> Path:
        return Path(os.environ[FILE_ENV])

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self._path().read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def _save(self, entries: dict[str, str]) -> None:
        path = self._path()
        temp = path.with_name(path.name + ".tmp")
        temp.write_text(json.dumps(entries), encoding="utf-8")
        temp.replace(path)

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._load()
        entries[f"{service}/{username}"] = password
        self._save(entries)

    def delete_password(self, service: str, username: str) -> None:
        entries = self._load()
        if entries.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(username)
        self._save(entries)
