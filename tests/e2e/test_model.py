"""Model-based concurrency test (tests/e2e/model.py): seeded schedules of everything that can
happen to a plan at once, and the invariants after each. `make test` runs the regression seeds
and a few more; `make soak` (VMDR_SOAK_SCHEDULES=N) runs N fresh ones and prints how many
schedules and invariant checks held."""

from __future__ import annotations

import os

import pytest

from tests.e2e.model import Schedule

# Seeds that found a defect stay here (each names what it found), then a few more.
REGRESSIONS: dict[int, str] = {}
SEEDS = [*REGRESSIONS, 1, 2, 3]
SOAK = int(os.environ.get("VMDR_SOAK_SCHEDULES", "0"))
TOTALS = {"schedules": 0, "checks": 0, "violations": 0}


@pytest.fixture(scope="module", autouse=True)
def totals():
    yield TOTALS
    if TOTALS["schedules"]:
        print(f"\nmodel: {TOTALS['schedules']} schedule(s), {TOTALS['checks']} invariant "
              f"check(s) held, {TOTALS['violations']} violated")


def run(vmdr, seed: int, length: int) -> None:
    outcome = Schedule(vmdr, seed, length).run()
    TOTALS["schedules"] += 1
    TOTALS["checks"] += outcome.checks - len(outcome.violations)
    TOTALS["violations"] += len(outcome.violations)
    assert not outcome.violations, (f"seed {seed}", outcome.steps, outcome.violations)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_a_seeded_schedule_keeps_every_invariant(vmdr, seed):
    run(vmdr, seed, length=8)


@pytest.mark.skipif(not SOAK, reason="make soak sets VMDR_SOAK_SCHEDULES")
@pytest.mark.parametrize("seed", range(1000, 1000 + SOAK))
def test_soak(vmdr, seed):
    run(vmdr, seed, length=14)
