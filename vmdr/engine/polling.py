"""When an orchestrator looks at Azure again (pure; used in orchestrators).

Soon at first (most operations of a failover take under two minutes: a late look adds straight to
the RTO), then less often as the wait grows (a long copy needs few looks, and every look is a few
history events): a tenth of the time waited since the work last changed, between `FIRST` and
`LONGEST`. An advance that knows better (a copy's progress rate, an operation's Retry-After)
says so in `Progress.wait`. When Azure throttled it (`Progress.retry_after`: a 429's
Retry-After, up to 1200 s for Compute), the next look is not before that, even past `LONGEST`:
a look sooner would only be refused again.
"""

from __future__ import annotations

from datetime import timedelta

FIRST = timedelta(seconds=2)
LONGEST = timedelta(minutes=2)


def next_look(waited: timedelta, hint_seconds: float | None = None,
              longest: timedelta = LONGEST, retry_after: float | None = None) -> timedelta:
    if hint_seconds is not None:
        delay = min(max(timedelta(seconds=hint_seconds), FIRST), longest)
    else:
        delay = min(max(waited / 10, FIRST), longest)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay
