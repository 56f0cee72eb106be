"""Where the tool keeps its files.

Everything lives under ``MEETZY_NUMBERS_HOME`` when it is set (tests and CI
use it); otherwise platformdirs decides, per operating system. The sandbox
keeps a whole separate home of its own, so trying the tool never touches a
real config, cache or journal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "meetzy-numbers"
HOME_ENV = "MEETZY_NUMBERS_HOME"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    cache_dir: Path
    data_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def journal_file(self) -> Path:
        return self.data_dir / "journal.jsonl"

    @property
    def callerid_state_file(self) -> Path:
        return self.data_dir / "callerid-pending.json"

    @property
    def sandbox_state_file(self) -> Path:
        """The simulated Twilio's records; only a sandboxed home has one."""
        return self.data_dir / "twilio.json"

    def sandboxed(self) -> Paths:
        """The separate home the sandbox runs in, inside the data folder."""
        root = self.data_dir / "sandbox"
        return Paths(config_dir=root, cache_dir=root / "cache", data_dir=root)


def default_paths() -> Paths:
    home = os.environ.get(HOME_ENV)
    if home:
        root = Path(home).expanduser()
        return Paths(config_dir=root, cache_dir=root / "cache", data_dir=root)

    import platformdirs

    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME)),
    )
