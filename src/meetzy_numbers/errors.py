"""Exit codes and the one error hierarchy the CLI maps to them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    PARTIAL = 3
    CREDENTIALS = 4
    NOT_FOUND = 5
    REFUSED = 6
    UNREACHABLE = 7


class MeetzyError(Exception):
    """Base of every error the tool expects; the CLI prints it as one line."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class TwilioFailure(MeetzyError):
    """Twilio answered with an error the tool cannot turn into anything else."""

    exit_code = ExitCode.FAILED

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code


class UsageError(MeetzyError):
    exit_code = ExitCode.USAGE


class ConfirmationNeeded(UsageError):
    """A destructive command ran with no terminal and no ``--yes``."""


class CredentialsError(MeetzyError):
    exit_code = ExitCode.CREDENTIALS


class NotFound(MeetzyError):
    exit_code = ExitCode.NOT_FOUND


class Refused(MeetzyError):
    """A safety rule stopped the command."""

    exit_code = ExitCode.REFUSED


class Unreachable(MeetzyError):
    """Twilio could not be reached, or kept rate-limiting after the retries."""

    exit_code = ExitCode.UNREACHABLE
