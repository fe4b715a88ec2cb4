"""A plan's lifecycle record in the catalog (Azurite): every transition, one by one, and the
refusals that say what to do next."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from azure.storage.blob import ContainerClient

from vmdr import lifecycle
from vmdr.catalog import Catalog
from vmdr.lifecycle import State

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.fixture
def catalog(azurite):
    client = ContainerClient.from_connection_string(azurite.connection_string(),
                                                    f"life-{uuid.uuid4().hex[:10]}")
    client.create_container()
    yield Catalog(client)
    client.delete_container()


LIFE = [  # (action, from, to): the plan's life, in order
    ("failover", State.PROTECTED, State.FAILING_OVER),
    ("failover succeeded", State.FAILING_OVER, State.FAILED_OVER),
    ("re-protect", State.FAILED_OVER, State.REPROTECTING),
    ("reverse cycle complete", State.REPROTECTING, State.REPROTECTED),
    ("failback", State.REPROTECTED, State.FAILING_BACK),
    ("failback succeeded", State.FAILING_BACK, State.PROTECTED),
]


def test_a_plan_without_a_record_is_protected(catalog):
    assert lifecycle.state_of(catalog, "shop") is State.PROTECTED


@pytest.mark.parametrize("index", range(len(LIFE)))
def test_each_transition_of_a_plans_life(catalog, index):
    for action, start, to in LIFE[:index]:
        lifecycle.transition(catalog, "shop", {start}, to, T0, action, "run-1")
    action, start, to = LIFE[index]
    assert lifecycle.state_of(catalog, "shop") is start
    # Every state refuses every transition that does not start from it.
    for other_action, other_start, other_to in LIFE:
        if other_start is not start:
            with pytest.raises(lifecycle.WrongState) as refused:
                lifecycle.transition(catalog, "shop", {other_start}, other_to, T0, other_action)
            assert f"is {start.value}" in str(refused.value) and "next:" in str(refused.value)
    record = lifecycle.transition(catalog, "shop", {start}, to, T0, action, "run-1")
    assert record["state"] == to.value and record["history"][-1]["action"] == action


def test_a_run_ends_only_the_state_it_put_the_plan_in(catalog):
    lifecycle.transition(catalog, "shop", {State.PROTECTED}, State.FAILING_OVER, T0,
                         "failover", "run-1")
    assert lifecycle.end_run(catalog, "shop", "run-2", State.FAILING_OVER, State.PROTECTED, T0,
                             "blocked") is None  # another run: nothing changes
    assert lifecycle.state_of(catalog, "shop") is State.FAILING_OVER
    lifecycle.end_run(catalog, "shop", "run-1", State.FAILING_OVER, State.NEEDS_ATTENTION, T0,
                      "needs-attention")
    assert lifecycle.state_of(catalog, "shop") is State.NEEDS_ATTENTION


def test_of_two_concurrent_failovers_one_takes_the_plan(catalog):
    def start(run: str) -> bool:
        try:
            lifecycle.transition(catalog, "shop", {State.PROTECTED}, State.FAILING_OVER, T0,
                                 "failover", run)
            return True
        except lifecycle.WrongState:
            return False

    with ThreadPoolExecutor(4) as pool:
        won = list(pool.map(start, [f"run-{i}" for i in range(4)]))
    assert won.count(True) == 1
