"""An in-process stand-in for Twilio's REST API (2010-04-01).

It speaks Twilio's wire format only and knows nothing of the rest of
meetzy_numbers, so the tool cannot cheat through it. Public API:

- `Sandbox`: answers requests in-process (`handle`), persists to a JSON file or
  lives in memory, `reset`, `snapshot`, `Sandbox.large` for benchmarks.
- `SandboxResponse`: status, JSON body text, headers.
- `Faults`: latency, rate limits, server errors, time-outs.
- `serve`: the same over real HTTP (`python -m meetzy_numbers.sandbox.server`).
- `SEED`: facts about the sample data (accounts, agents, numbers, rules).
"""

from .core import Sandbox, SandboxResponse
from .faults import Faults, TimeoutFault
from .httpd import serve
from .large import large_account
from .seed import SEED, SeedFacts, SeedNumber

__all__ = [
    "SEED",
    "Faults",
    "Sandbox",
    "SandboxResponse",
    "SeedFacts",
    "SeedNumber",
    "TimeoutFault",
    "large_account",
    "serve",
]
