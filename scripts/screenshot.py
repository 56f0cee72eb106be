"""Make the README's picture of the main table, from the sandbox.

    python scripts/screenshot.py            # writes docs/list.svg

It runs `meetzy-numbers --sandbox list -A` in a throwaway home with colour
forced, and has rich turn the coloured output into an SVG.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.text import Text

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "list.svg"


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "MEETZY_NUMBERS_HOME": home,
            "FORCE_COLOR": "1",
            "COLUMNS": "172",
        }
        env.pop("NO_COLOR", None)
        command = [sys.executable, "-m", "meetzy_numbers", "--sandbox", "list", "-A"]
        shown = subprocess.run(
            command, env=env, capture_output=True, text=True, check=True
        ).stdout
    console = Console(record=True, width=172, force_terminal=True, file=io.StringIO())
    console.print(Text.from_ansi(shown))
    OUT.parent.mkdir(exist_ok=True)
    console.save_svg(str(OUT), title="meetzy-numbers --sandbox list -A")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
