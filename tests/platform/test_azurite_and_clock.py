"""The local platform's shared pieces: Azurite launcher and the virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.blob import BlobServiceClient

from localplatform.azurite import DEFAULT_ACCOUNTS
from vmdr.clock import SIM_CLOCK_SETTING, VirtualClock, utcnow


def test_every_default_account_answers_real_blob_calls(azurite):
    for account in DEFAULT_ACCOUNTS:
        service = BlobServiceClient.from_connection_string(azurite.connection_string(account))
        container = service.get_container_client(f"probe-{account}")
        container.create_container()
        container.upload_blob("hello.txt", account.encode())
        assert container.download_blob("hello.txt").readall() == account.encode()
        container.delete_container()


def test_virtual_clock_runs_scaled_and_round_trips(monkeypatch):
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    clock = VirtualClock(real_epoch=1000.0, virtual_epoch=epoch, scale=60)
    monkeypatch.setattr("vmdr.clock.time.time", lambda: 1010.0)
    assert clock.now() == epoch + timedelta(minutes=10)
    assert clock.real_seconds_until(epoch + timedelta(minutes=11)) == pytest.approx(1.0)
    assert clock.real_seconds_until(epoch) == 0.0
    monkeypatch.setenv(SIM_CLOCK_SETTING, clock.to_json())
    assert VirtualClock.from_json(clock.to_json()) == clock
    assert utcnow() == epoch + timedelta(minutes=10)


def test_virtual_clock_rejects_bad_settings():
    with pytest.raises(ValueError, match="VMDR_SIM_CLOCK"):
        VirtualClock.from_json("not json")
    with pytest.raises(ValueError, match="timezone"):
        VirtualClock.from_json('{"real_epoch": 1, "virtual_epoch": "2026-01-01T00:00:00"}')
