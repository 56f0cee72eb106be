"""What every handler shares: the request, the error it raises, argument parsing.

Twilio does not publish an error code for every malformed parameter; where it is
not known, the sandbox answers 400 with code 20001 and a message naming the
parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

from .render import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from .state import State

INVALID_PARAMETER: Final = 20001
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class ApiError(Exception):
    """An answer other than success, raised before any state changes."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    args: dict[str, str]
    headers: dict[str, str]
    now: float


@dataclass
class Ctx:
    """One authenticated request against the live state."""

    state: State
    req: Request
    principal: str
    via_api_key: bool

    def arg(self, name: str) -> str | None:
        return self.req.args.get(name)


def not_found(path: str) -> ApiError:
    return ApiError(404, 20404, f"The requested resource {path} was not found")


def invalid(name: str, why: str = "is invalid") -> ApiError:
    return ApiError(400, INVALID_PARAMETER, f"Invalid parameter {name}: {why}")


def e164(value: str, *, name: str = "PhoneNumber", code: int = 21217) -> str:
    """A phone number in E.164; an unencoded '+' in a query decodes to a space."""
    compact = re.sub(r"[\s().\-]", "", value)
    if compact and not compact.startswith("+"):
        compact = "+" + compact
    if not _E164.match(compact):
        raise ApiError(400, code, f"{name} {value!r} is not a valid phone number")
    return compact


def flag(ctx: Ctx, name: str) -> bool | None:
    raw = ctx.arg(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise invalid(name, "must be true or false")


def page_params(ctx: Ctx) -> tuple[int, int, str | None]:
    """PageSize (default 50, at most 1000), Page and PageToken."""
    size = _int_arg(ctx, "PageSize", DEFAULT_PAGE_SIZE)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise invalid("PageSize", f"must be between 1 and {MAX_PAGE_SIZE}")
    number = _int_arg(ctx, "Page", 0)
    if number < 0:
        raise invalid("Page", "must not be negative")
    return size, number, ctx.arg("PageToken") or None


def _int_arg(ctx: Ctx, name: str, default: int) -> int:
    raw = ctx.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid(name, "must be an integer") from None


def timestamp(name: str, raw: str) -> tuple[float, bool]:
    """Epoch seconds for a date filter, and whether it named a whole day.

    twilio-python sends `YYYY-MM-DDTHH:MM:SSZ` for datetimes and passes strings
    through, so bare dates, ISO 8601 and RFC 2822 are all accepted.
    """
    text = raw.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        return day.timestamp(), True
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise invalid(name, "is not a date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp(), False


def http_url(name: str, value: str) -> str | None:
    """A callback URL; "" clears the field."""
    if value == "":
        return None
    if not re.match(r"^https?://[^\s/]+", value):
        raise ApiError(400, 21502, f"{name} is not a valid URL: {value!r}")
    return value


def http_method(name: str, value: str) -> str:
    """GET or POST; "" restores Twilio's default, POST."""
    if value == "":
        return "POST"
    upper = value.upper()
    if upper not in ("GET", "POST"):
        raise invalid(name, "must be GET or POST")
    return upper


def sid_value(name: str, value: str, prefix: str) -> str | None:
    """A SID with the given prefix; "" clears the field."""
    if value == "":
        return None
    if not re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value):
        raise invalid(name, f"must be a {prefix} SID")
    return value
