"""Azure failures as vmdr reports them: transient (worth retrying) or permanent, with ARM's code.

Durable Functions turns an activity's exception into a message only (its type is lost on the way
to the orchestrator), so each error's message starts with its kind — `[transient]` or
`[permanent]` — and ARM's code, which orchestrators read with `error_kind()`.
"""

from __future__ import annotations

import re

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

# ARM codes that say "not now" rather than "never" (limits, contention, a region recovering).
TRANSIENT_CODES = frozenset(
    code.lower()
    for code in (
        "TooManyRequests",
        "OperationPreempted",
        "RetryableError",
        "ServiceUnavailable",
        "InternalServerError",
        "GatewayTimeout",
        "InternalExecutionError",
        "ConcurrentCopyLimitReached",
        "TooManyConcurrentCopies",
        "OperationNotAllowedDueToConcurrentCopy",
        "SnapshotCountExceeded",
    )
)
_KIND = re.compile(r"\[(transient|permanent)\]")


class VmdrError(RuntimeError):
    kind = "permanent"

    def __init__(self, message: str, code: str | None = None):
        self.code = code
        prefix = f"[{self.kind}] " + (f"{code}: " if code else "")
        super().__init__(prefix + message)


class TransientError(VmdrError):
    kind = "transient"


class PermanentError(VmdrError):
    kind = "permanent"


def arm_code(exc: BaseException) -> str | None:
    if isinstance(exc, HttpResponseError):
        error = getattr(exc, "error", None)
        code = getattr(error, "code", None) if error is not None else None
        return code or (exc.reason if exc.status_code else None)
    return None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return True  # no answer: connection refused, reset or timed out
    if isinstance(exc, HttpResponseError):
        if exc.status_code in (408, 429) or (exc.status_code or 0) >= 500:
            return True
        return (arm_code(exc) or "").lower() in TRANSIENT_CODES
    return False


def copy_refused_for_now(exc: BaseException) -> bool:
    """Azure declines to start a copy or a snapshot now but will later: the copy limits (one copy
    per disk family, 100 per subscription and target region), the rate of snapshots per disk, a
    source still being made. vmdr counts those limits itself and rarely meets them; when it does,
    the refusal's code is not documented (AZURE_FACTS: do not depend on a particular code), so a
    409 or 429 of any code — or a transient failure — means "not now"."""
    if is_transient(exc):
        return True
    return isinstance(exc, HttpResponseError) and exc.status_code in (409, 429)


def describe(exc: BaseException) -> str:
    """One line: ARM's code and message, without the SDK's multi-line dump."""
    if isinstance(exc, HttpResponseError):
        error = getattr(exc, "error", None)
        message = getattr(error, "message", None) or exc.message or str(exc)
        return message.splitlines()[0] if message else type(exc).__name__
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


# Azure's messages are a line or two; one longer than this is cut (reports and histories stay
# small).
CAUSE_CHARS = 300


def cause(code: str | None, message: str | None) -> str:
    """Azure's error as vmdr reports it: `Code: message`, on one line, at most CAUSE_CHARS of
    message."""
    text = " ".join(str(message or "").split())
    if len(text) > CAUSE_CHARS:
        text = text[:CAUSE_CHARS - 1] + "…"
    return f"{code}: {text}" if code and text else (code or text or "no error given")


def cause_of(exc: BaseException) -> str:
    """`Code: message` of a failed request (the ARM error body's), or what the exception says."""
    if isinstance(exc, VmdrError):
        return cause(None, _KIND.sub("", str(exc), count=1).strip())
    return cause(arm_code(exc), describe(exc))


def classify(exc: BaseException) -> VmdrError:
    """The vmdr error to raise for an Azure failure."""
    if isinstance(exc, VmdrError):
        return exc
    kind = TransientError if is_transient(exc) else PermanentError
    return kind(describe(exc), arm_code(exc))


def error_kind(message: str) -> str:
    """`transient` or `permanent` from an activity failure message seen by an orchestrator."""
    match = _KIND.search(message or "")
    return match.group(1) if match else "permanent"


def reraise_azure(func):
    """Decorator for activities' domain calls: Azure failures leave as VmdrError subclasses."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except VmdrError:
            raise
        except AzureError as exc:
            raise classify(exc) from exc

    return wrapper
