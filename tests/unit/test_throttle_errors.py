"""Throttles as vmdr classifies them: a long Retry-After is a wait for the advance, not a failure
nor a sleep; an accepted operation's Retry-After is the next look's hint."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.transport import HttpResponse

from vmdr.engine import arm
from vmdr.engine.progress import Progress
from vmdr.engine.retry import LONGEST_SLEEP, BoundedRetryPolicy
from vmdr.errors import Throttled, TransientError, classify, error_kind, reraise_azure


class _Response(HttpResponse):
    def __init__(self, status: int, headers: dict[str, str]):
        super().__init__(None, None)
        self.status_code, self.headers, self.reason = status, headers, "Too Many Requests"

    def body(self) -> bytes:
        return b'{"error": {"code": "OperationNotAllowed", "message": "too many requests"}}'

    def text(self, encoding=None) -> str:
        return self.body().decode()


def _throttle(seconds: str, status: int = 429) -> HttpResponseError:
    return HttpResponseError(response=_Response(status, {"Retry-After": seconds}))


def test_a_429_or_503_with_retry_after_is_throttled_and_transient():
    error = classify(_throttle("1200"))
    assert isinstance(error, Throttled) and error.retry_after == 1200
    assert error_kind(str(error)) == "transient"
    assert classify(_throttle("30", 503)).retry_after == 30
    assert not isinstance(classify(HttpResponseError(response=_Response(429, {}))), Throttled)
    assert isinstance(classify(HttpResponseError(response=_Response(429, {}))), TransientError)


def test_an_advance_reports_a_throttle_as_a_wait_other_activities_raise_it():
    @reraise_azure
    def advance(ref: dict) -> dict:
        raise _throttle("1200")

    progress = advance({"plan": "p", "allowance": 5, "memo": {"tries": 1}})
    assert progress["wait"] == progress["retry_after"] == 1200
    assert progress["memo"] == {"tries": 1} and not progress["done"]
    assert not progress["failed_count"]
    with pytest.raises(Throttled):
        advance({"plan": "p"})  # not called by converge: no memo


def test_the_sdk_does_not_retry_a_long_retry_after_inside_an_activity():
    policy = BoundedRetryPolicy()
    settings = policy.configure_retries({})

    class _Pipeline:
        def __init__(self, seconds):
            self.http_response = _Response(429, {"Retry-After": seconds})
            self.http_request = type("R", (), {"method": "PUT"})()

    assert not policy.is_retry(settings, _Pipeline(str(int(LONGEST_SLEEP) + 1)))
    assert policy.is_retry(settings, _Pipeline("2"))
    assert settings["total"] == 3 and settings["max_backoff"] <= LONGEST_SLEEP


def test_an_accepted_operations_retry_after_is_the_look_hint():
    def operation(seconds: str):
        def begin_something(*, polling, raw_response_hook):
            response = type("P", (), {})()
            response.http_request = type("R", (), {"method": "PUT"})()
            response.http_response = _Response(202, {"Retry-After": seconds})
            raw_response_hook(response)
        return begin_something

    with arm.tally() as tally:
        assert arm.begin(operation("40")).retry_after == 40
        arm.begin(operation("25"))
        arm.begin(operation("0"))  # 0 is unset (azure-core reads it so)
    assert tally.writes == 3 and tally.look_after == 25
    assert Progress().counted(tally).wait == 25
    assert Progress(wait=10).counted(tally).wait == 10
