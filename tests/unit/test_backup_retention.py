"""Which copies of a backup set retention lets go (vmdr/backups/retention.py), and the source URL
vmdr hands to a server-side copy in Azure (a user delegation SAS, vmdr/azure.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from vmdr.backups.record import BackupCopy, CopyState
from vmdr.backups.retention import copies_to_delete

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def copy(name: str, days_old: float, state: CopyState = CopyState.COPIED) -> BackupCopy:
    moment = NOW - timedelta(days=days_old)
    return BackupCopy(source=name, etag="0x1", last_modified=moment, time=moment,
                      target=name, state=state)


def names(copies) -> list[str]:
    return [c.source for c in copies]


def test_keep_last_keeps_the_newest_and_lets_the_rest_go_oldest_first():
    copies = [copy(f"b{i}", days_old=i) for i in range(6)]  # b0 newest
    assert names(copies_to_delete(copies, keep_last=3, keep_days=0, now=NOW)) == [
        "b5", "b4", "b3"]


def test_keep_days_keeps_every_copy_younger_than_that():
    copies = [copy(f"b{i}", days_old=i + 0.5) for i in range(6)]
    assert names(copies_to_delete(copies, keep_last=1, keep_days=3, now=NOW)) == [
        "b5", "b4", "b3"]
    # keep_last and keep_days add up: the larger set is kept.
    assert names(copies_to_delete(copies, keep_last=5, keep_days=3, now=NOW)) == ["b5"]


def test_the_newest_copy_is_never_deleted_even_when_old():
    copies = [copy("ancient", days_old=400), copy("older", days_old=500)]
    assert names(copies_to_delete(copies, keep_last=1, keep_days=1, now=NOW)) == ["older"]


@pytest.mark.parametrize("state", [CopyState.COPYING, CopyState.FAILED, CopyState.DELETED])
def test_only_complete_copies_count_or_go(state):
    copies = [copy("new-but-not-copied", days_old=0, state=state), copy("done", days_old=9),
              copy("older", days_old=10)]
    # The newest *complete* copy is kept; one still copying is neither kept nor let go.
    assert names(copies_to_delete(copies, keep_last=1, keep_days=0, now=NOW)) == ["older"]


def test_nothing_copied_nothing_deleted():
    assert copies_to_delete([], keep_last=1, keep_days=0, now=NOW) == []


def test_in_azure_the_source_url_carries_a_read_only_user_delegation_sas_of_one_blob(
        monkeypatch):
    """The identity's delegation key signs the SAS (no account key): read only, this blob only,
    expiring after SOURCE_SAS_LIFETIME of the storage service's time; the key is asked for once
    and reused while it outlives the SAS."""
    from azure.storage.blob import BlobClient, UserDelegationKey

    from vmdr.azure import SOURCE_SAS_LIFETIME, AzureClients
    from vmdr.settings import Settings

    clients = AzureClients(Settings(catalog_account_url="https://app.blob.core.windows.net"))
    key = UserDelegationKey()
    key.signed_oid, key.signed_tid = "11111111-1111-1111-1111-111111111111", "tenant"
    key.signed_start, key.signed_expiry = "2026-12-06T11:55:00Z", "2026-12-07T11:55:00Z"
    key.signed_service, key.signed_version, key.value = "b", "2025-11-05", "a2V5LXZhbHVl"
    asked = []

    class Service:
        def get_user_delegation_key(self, start, expiry):
            asked.append((start, expiry))
            return key

    monkeypatch.setattr(clients, "blob_service", lambda account: Service())
    blob = BlobClient("https://shopbackupsweu.blob.core.windows.net", "db-backups",
                      "nightly/2026-12-06.bak")
    url = clients.readable_url(blob, NOW)
    again = clients.readable_url(blob, NOW + timedelta(hours=1))
    assert len(asked) == 1 and again != url
    parsed = urlparse(url)
    assert parsed.path == "/db-backups/nightly/2026-12-06.bak"
    query = parse_qs(parsed.query)
    assert query["sp"] == ["r"] and query["sr"] == ["b"]
    assert query["skoid"] == [key.signed_oid] and "sig" in query
    assert query["se"] == [(NOW + SOURCE_SAS_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")]
    # A SAS needed beyond the key's expiry makes vmdr ask for a new key.
    clients.readable_url(blob, NOW + timedelta(hours=20))
    assert len(asked) == 2
