"""The one place that knows rich: tables, badges, JSON, CSV, messages, progress.

Data goes to stdout, everything else to stderr. A table on a terminal is a
rich table in colour; a table into a pipe or file is plain aligned text with
every SID, number and URL whole, written row by row so that ten thousand rows
cost about what the CSV does.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TextIO

from meetzy_numbers.model.numbers import Kind, NumberRecord, State
from meetzy_numbers.model.phone import describe

if TYPE_CHECKING:
    from rich.console import Console

BADGES: dict[str, tuple[str, str]] = {
    State.ASSIGNED.value: ("🟢", "green"),
    State.PARTIAL.value: ("🟡", "yellow"),
    State.UNASSIGNED.value: ("⚪", "bright_black"),
    "caller-id": ("🔒", "cyan"),
}
# Columns a terminal table never wraps: numbers and SIDs are read whole
# (``old`` and ``new`` are the two numbers of a swap).
# Columns of free text that may fold onto several lines on a narrow terminal;
# every other column is shown whole.
FLEXIBLE_COLUMNS = frozenset({"notes", "detail", "change", "value", "reason", "note"})
FLEXIBLE_MIN_WIDTH = 20
HEALTH_STYLES = {
    "healthy": "green",
    "warning": "yellow",
    "spam": "bold red",
    "unknown": "bright_black",
}


@dataclass
class Output:
    """How and where this run writes: chosen once from the global options."""

    format: str = "table"
    color: bool | None = None  # None: colour when the stream is a terminal
    quiet: bool = False
    stdout: TextIO | None = None
    stderr: TextIO | None = None

    @property
    def out(self) -> TextIO:
        return self.stdout or sys.stdout

    @property
    def err(self) -> TextIO:
        return self.stderr or sys.stderr

    def console(self, *, stderr: bool = False, width: int | None = None) -> Console:
        from rich.console import Console

        stream = self.err if stderr else self.out
        return Console(
            file=stream,
            width=width,
            no_color=self.color is False,
            force_terminal=True if self.color else None,
            highlight=False,
            soft_wrap=False,
        )

    def is_terminal(self, *, stderr: bool = False) -> bool:
        stream = self.err if stderr else self.out
        isatty = getattr(stream, "isatty", None)
        return bool(isatty and isatty())

    # Messages (stderr)

    def message(self, text: str, style: str | None = None) -> None:
        if self.quiet:
            return
        self._err_line(text, style)

    def warning(self, text: str) -> None:
        self._err_line(f"warning: {text}", "yellow")

    def error(self, text: str, hint: str | None = None) -> None:
        self._err_line(f"error: {text}", "bold red")
        if hint:
            self._err_line(f"hint: {hint}", None)

    def _err_line(self, text: str, style: str | None) -> None:
        if self.color is False or not self.is_terminal(stderr=True):
            print(text, file=self.err)
            return
        from rich.text import Text

        self.console(stderr=True).print(Text(text, style=style or ""))

    # Records (stdout)

    def records(
        self,
        rows: Sequence[dict[str, Any]],
        columns: Sequence[tuple[str, str]],
        *,
        title: str | None = None,
        footer: str | None = None,
        styles: dict[str, str] | None = None,
    ) -> None:
        """Write rows as a table, JSON or CSV. ``columns`` is (key, heading)."""
        if self.format == "json":
            json.dump(list(rows), self.out, indent=2, default=_json_default)
            self.out.write("\n")
        elif self.format == "csv":
            write_csv(self.out, rows)
        elif self.is_terminal() or self.color:
            footer = None if self.quiet else footer
            self._rich_table(rows, columns, title, footer, styles or {})
        else:
            write_plain_table(self.out, rows, columns, None if self.quiet else footer)

    def document(self, data: Any) -> None:
        json.dump(data, self.out, indent=2, default=_json_default)
        self.out.write("\n")

    def callout(self, title: str, text: str) -> None:
        """What the user must act on now: boxed on a terminal, one line in a pipe."""
        if not (self.is_terminal() or self.color):
            self.out.write(f"{title}: {text}\n")
            return
        from rich.panel import Panel
        from rich.text import Text

        body = Text(text, style="bold", justify="center")
        panel = Panel(body, title=Text(title), expand=False, padding=(1, 6))
        self.console().print(panel)

    def _rich_table(
        self,
        rows: Sequence[dict[str, Any]],
        columns: Sequence[tuple[str, str]],
        title: str | None,
        footer: str | None,
        styles: dict[str, str],
    ) -> None:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title, box=box.SIMPLE_HEAD, caption=footer)
        texts = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
        needed = 2  # the table's edges
        for index, (key, heading) in enumerate(columns):
            needed += 2  # a space of padding each side
            if key in FLEXIBLE_COLUMNS:
                # Long reasons and URLs fold onto more lines, never lose their end.
                table.add_column(heading, overflow="fold", ratio=1)
                needed += FLEXIBLE_MIN_WIDTH
                continue
            # Everything else keeps its full width: a cut number is a wrong one.
            width = max([_width(heading), *(_width(line[index]) for line in texts)])
            table.add_column(heading, no_wrap=True, min_width=width)
            needed += width
        for row, line in zip(rows, texts, strict=True):
            cells = []
            for (key, _), text in zip(columns, line, strict=True):
                style = styles.get(f"{key}:{row.get(key)}") or styles.get(key, "")
                cells.append(Text(text, style=style))
            table.add_row(*cells)
        console = self.console()
        if needed > console.width:
            # Narrower than the fixed columns: print wider and let the
            # terminal wrap the lines, rather than squeeze the columns.
            console = self.console(width=needed)
        console.print(table)

    @contextmanager
    def progress(self, total: int, description: str) -> Iterator[Any]:
        """A progress bar on a terminal; a no-op callback anywhere else."""
        if total <= 1 or self.quiet or not self.is_terminal(stderr=True):
            yield lambda: None
            return
        from rich.progress import Progress

        with Progress(console=self.console(stderr=True), transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda: bar.advance(task)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, State | Kind):
        return value.value
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def write_csv(stream: TextIO, rows: Sequence[dict[str, Any]]) -> None:
    """Flat columns only: a key whose value is nested in any row is left out."""
    if not rows:
        return
    nested = {
        key
        for row in rows
        for key, value in row.items()
        if isinstance(value, dict | list)
    }
    keys = [key for key in rows[0] if key not in nested]
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(keys)
    cell = _cell
    for row in rows:
        writer.writerow(
            [
                value if type(value) is str else cell(value)
                for value in map(row.get, keys)
            ]
        )


def write_plain_table(
    stream: TextIO,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    footer: str | None = None,
) -> None:
    """Aligned columns with nothing cut, for pipes and files."""
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    headings = [heading for _, heading in columns]
    widths = [len(h) for h in headings]
    for line in cells:
        for index, text in enumerate(line):
            widths[index] = max(widths[index], _width(text))
    last = len(columns) - 1

    def format_line(values: Iterable[str]) -> str:
        parts = []
        for index, text in enumerate(values):
            pad = "" if index == last else " " * (widths[index] - _width(text))
            parts.append(text + pad)
        return "  ".join(parts).rstrip()

    write = stream.write
    write(format_line(headings) + "\n")
    write(format_line("-" * w for w in widths) + "\n")
    for line in cells:
        write(format_line(line) + "\n")
    if footer:
        write("\n" + footer + "\n")


def _width(text: str) -> int:
    """Display width: the badge emoji take two columns."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


# Numbers


NUMBER_COLUMNS: list[tuple[str, str]] = [
    ("badge", "state"),
    ("phone_number", "number"),
    ("national_format", "national"),
    ("agent", "agent"),
    ("account_name", "account"),
    ("notes", "why / notes"),
    ("sid", "sid"),
]


def number_row(record: NumberRecord, agent_names: dict[str, str]) -> dict[str, Any]:
    """The JSON record of one number; tables and CSV use the same keys."""
    info = describe(record.phone_number)
    is_caller_id = record.kind is Kind.CALLER_ID
    state = None if is_caller_id else (record.state.value if record.state else None)
    status_word = record.verification if is_caller_id else state
    icon, _ = BADGES["caller-id" if is_caller_id else (state or "unassigned")]
    notes = []
    if record.reason:
        notes.append(record.reason)
    if record.marked_for_return:
        notes.append(f"marked for return {record.marked_for_return.isoformat()}")
    if record.agent and record.agent not in agent_names and not is_caller_id:
        notes.append(f"agent {record.agent} is not in the config")
    health = (record.health or {}).get("status")
    return {
        "sid": record.sid,
        "phone_number": record.phone_number,
        "national_format": info.national,
        "country": info.region,
        "type": record.kind.value,
        "state": state,
        "reason": record.reason,
        "verification": record.verification,
        "agent": record.agent,
        "agent_name": agent_names.get(record.agent or ""),
        "account_sid": record.account_sid,
        "account_name": record.account_name,
        "friendly_name": record.friendly_name,
        "marked_for_return": record.marked_for_return,
        "health": health,
        "badge": f"{icon} {status_word}",
        "notes": "; ".join(notes),
        "routing": record.routing or None,
        "capabilities": record.capabilities or None,
    }


def with_health_column(
    columns: Sequence[tuple[str, str]], records: Sequence[NumberRecord]
) -> list[tuple[str, str]]:
    """The columns, with health after the agent once any record has health."""
    if not any(record.health for record in records):
        return list(columns)
    keys = [key for key, _ in columns]
    at = keys.index("agent") + 1 if "agent" in keys else len(keys)
    return [*columns[:at], ("health", "health"), *columns[at:]]


def health_pairs(health: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Field and value lines of a number's last health result, for ``show``."""
    if not health:
        return []

    def percent(value: Any) -> str:
        return f"{value:.0%}" if isinstance(value, int | float) else ""

    days = health.get("window_days")
    return [
        {"field": "health", "value": health.get("status")},
        {"field": "answer rate", "value": percent(health.get("answer_rate"))},
        {"field": "short calls", "value": percent(health.get("short_share"))},
        {"field": "calls", "value": f"{health.get('calls', 0)} in {days} days"},
        {"field": "health computed at", "value": health.get("computed_at")},
    ]


def number_styles() -> dict[str, str]:
    styles = {}
    for state in State:
        icon, color = BADGES[state.value]
        styles[f"badge:{icon} {state.value}"] = color
    for word in ("pending", "verified", "disabled"):
        styles[f"badge:🔒 {word}"] = "cyan" if word == "verified" else "magenta"
    for word, style in HEALTH_STYLES.items():
        styles[f"health:{word}"] = style
    styles["notes"] = "bright_black"
    return styles


def count_footer(records: Sequence[NumberRecord], accounts: int) -> str:
    counts = Counter(
        r.state.value for r in records if r.kind is Kind.TWILIO and r.state
    )
    caller_ids = sum(1 for r in records if r.kind is Kind.CALLER_ID)
    twilio = sum(counts.values())
    parts = [f"{BADGES[s.value][0]} {counts.get(s.value, 0)} {s.value}" for s in State]
    text = f"{twilio} numbers in {accounts} account{'s' if accounts != 1 else ''}: "
    text += " · ".join(parts)
    if caller_ids:
        text += f" · 🔒 {caller_ids} caller ID{'s' if caller_ids != 1 else ''}"
    return text
