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


def test_a_paused_shared_clock_stands_still_for_every_process_and_goes_on_after(monkeypatch):
    """A pause held in one process stops virtual time in another (a subprocess reading the
    same clock file), and time goes on from where it stood once the pause is let go."""
    import subprocess
    import sys

    now = [1000.0]
    monkeypatch.setattr("vmdr.clock.time.time", lambda: now[0])
    clock = VirtualClock.start(scale=60, shared=True)
    try:
        read = ("import sys; from vmdr.clock import VirtualClock; "
                "print(VirtualClock.from_json(sys.argv[1]).now().isoformat())")

        def seen_elsewhere() -> datetime:
            out = subprocess.run([sys.executable, "-c", read, clock.to_json()],
                                 capture_output=True, text=True, check=True).stdout
            return datetime.fromisoformat(out.strip())

        before = clock.now()
        with clock.paused():
            stood = clock.now()
            now[0] += 30  # half a real minute: 30 virtual minutes at 60x, were it not paused
            assert clock.now() == stood
            # The other process reads the real time (not this test's), and sees it stand still.
            assert seen_elsewhere() == stood
            with clock.busy():  # work in a pause does not move it either
                now[0] += 5
                assert clock.now() == stood
        now[0] += 1
        assert clock.now() == stood + timedelta(minutes=1)  # on from where it stood, at 60x
        assert stood >= before
    finally:
        clock.discard()
