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


class Throttled(TransientError):
    """Azure said "not before `retry_after` seconds" (a 429 or 503 with Retry-After that the
    SDK did not sleep through: vmdr.engine.retry). An advance reports it as a wait
    (`reraise_azure`), so the next look is a durable timer at that time; what it asked for and
    was refused is asked again then (every request of an advance is idempotent by name)."""

    def __init__(self, message: str, code: str | None = None, retry_after: float = 0.0):
        self.retry_after = retry_after
        super().__init__(f"{message} (Retry-After {retry_after:g} s)", code)


def retry_after_of(exc: BaseException) -> float | None:
    """Seconds of the Retry-After of a 429 or 503 answer (None without one)."""
    if not isinstance(exc, HttpResponseError) or exc.status_code not in (429, 503):
        return None
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    from azure.core.pipeline.policies import RetryPolicy

    try:
        seconds = RetryPolicy().parse_retry_after(value)  # seconds or an HTTP date
    except (ValueError, TypeError):
        return None
    return seconds if seconds > 0 else None


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
    retry_after = retry_after_of(exc)
    if retry_after is not None:
        return Throttled(describe(exc), arm_code(exc), retry_after)
    kind = TransientError if is_transient(exc) else PermanentError
    return kind(describe(exc), arm_code(exc))


def error_kind(message: str) -> str:
    """`transient` or `permanent` from an activity failure message seen by an orchestrator."""
    match = _KIND.search(message or "")
    return match.group(1) if match else "permanent"


def reraise_azure(func):
    """Decorator for activities' domain calls: Azure failures leave as VmdrError subclasses —
    except a throttle met by an advance (an activity `converge` calls: its input carries the
    `memo`), which is not a failure but a wait: the advance answers a `Progress` whose `wait`
    and `retry_after` are Azure's Retry-After, so the next look is a durable timer at that time
    (orchestrators/converge.py), never a sleep inside the activity."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except VmdrError as exc:
            error = exc
        except AzureError as exc:
            error = classify(exc)
            error.__cause__ = exc
        job = args[0] if args else next(iter(kwargs.values()), None)
        if isinstance(error, Throttled) and isinstance(job, dict) and "memo" in job:
            return _throttled_progress(job, error)
        raise error

    return wrapper


def _throttled_progress(job: dict, error: Throttled) -> dict:
    from vmdr.engine.progress import Progress

    progress = Progress(wait=error.retry_after, retry_after=error.retry_after, throttled=1,
                        memo=dict(job.get("memo") or {}))
    progress.detail = {"throttled": cause_of(error)}
    return progress.result()
