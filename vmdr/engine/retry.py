"""The ARM clients' retry policy: short retries inside an activity, long waits left to the
orchestrator.

azure-core's default `RetryPolicy` (azure/core/pipeline/policies/_retry.py) retries up to
`retry_total` 10 times (`retry_status` 3 for error statuses), backs off exponentially up to
`retry_backoff_max` (120 s), and for any status >= 400 that carries `Retry-After` sleeps exactly
that long, uncapped: `retry_backoff_max` bounds only its own backoff, and `timeout` is checked
between attempts, not during a sleep. Compute throttles answer 429 with `Retry-After` up to 1200 s
(learn.microsoft.com, "Troubleshooting API throttling errors"): three such sleeps are an hour in
one activity, far past the Functions host's `functionTimeout`.

`BoundedRetryPolicy` keeps the SDK's retries for what is over in seconds (a connection reset, a
short Retry-After) and refuses to sleep longer than `LONGEST_SLEEP` inside an activity: a
response whose Retry-After is longer is not retried here; the SDK raises it, `vmdr.errors`
classifies it as `Throttled(retry_after)`, and the advance reports it as a wait, so that the
orchestrator looks again after a durable timer (DESIGN §3a: long waits are durable timers and
short looks, never sleeps inside activities). At most `RETRIES` retries of at most
`LONGEST_SLEEP` each: a request spends at most RETRIES x LONGEST_SLEEP (plus its own time)
asleep.
"""

from __future__ import annotations

from typing import Any

from azure.core.pipeline.policies import RetryPolicy

RETRIES = 3
# The longest wait slept inside an activity, Retry-After or backoff (seconds).
LONGEST_SLEEP = 10.0
BACKOFF_MAX = 4


class BoundedRetryPolicy(RetryPolicy):
    """azure-core's RetryPolicy that never sleeps longer than `LONGEST_SLEEP`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("retry_total", RETRIES)
        kwargs.setdefault("retry_backoff_max", BACKOFF_MAX)
        super().__init__(**kwargs)

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after is not None and retry_after > LONGEST_SLEEP:
            return False  # the caller waits with a durable timer (vmdr.errors.Throttled)
        return super().is_retry(settings, response)
