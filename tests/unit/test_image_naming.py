"""Names of strategy image: versions from the capture's time, VMs from (VM, index, run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from vmdr import naming

MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31),
                       timezones=st.just(UTC))


def number(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@given(MOMENTS, st.integers(min_value=1, max_value=10 ** 8))
def test_versions_are_32_bit_integers_that_sort_by_capture_time(moment, later_seconds):
    first = naming.image_version(moment)
    second = naming.image_version(moment + timedelta(seconds=later_seconds))
    assert all(0 <= part <= 2 ** 31 - 1 for part in number(first))
    assert number(second) > number(first)


def test_a_retried_capture_names_the_same_version_whatever_the_time_zone():
    moment = datetime(2026, 12, 2, 13, 0, 35, tzinfo=UTC)
    assert naming.image_version(moment) == "2026.1202.130035"
    assert naming.image_version(moment.astimezone(timezone(timedelta(hours=2)))) == \
        "2026.1202.130035"


def test_vm_names_fit_azure_and_differ_by_index_and_run():
    long = "w" * 64
    names = {naming.image_vm(long, i, f"run-{r}") for i in (1, 2, 10) for r in (1, 2)}
    assert len(names) == 6 and all(len(n) <= 64 for n in names)
    assert naming.image_nic("shop-worker", 2, "run-1").endswith("-nic")
    assert naming.image_vm("shop-worker", 1, "drill-x").split("-")[-2] == "drill"
