"""The data plane: disk and snapshot bytes in Azurite page blobs.

Each disk, snapshot and disk restore point keeps its bytes in a page blob in the Azurite account
that stands for its region (estate: region → account). Size scale: one simulated GiB of
`diskSizeGB` is `bytes_per_gib` bytes of page blob (default 1 MiB, a multiple of 512), so a
128 GiB disk is a sparse 128 MiB page blob. Blobs are created lazily (first write, copy or SAS
export) so that seeding a 1,000-VM estate costs no storage calls.

Azurite does not implement incremental copy nor page-range diffs (`previous_snapshot_diff`
returns every range), so copies here read the source's page ranges (correct without a diff) and
write them into the target page blob; "incremental" accounting is tracked by the models.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobClient,
    BlobSasPermissions,
    BlobServiceClient,
    generate_blob_sas,
)

from armsim.errors import InvalidParameter

PAGE = 512
MAX_PAGE_WRITE = 4 * 1024 * 1024
CONTAINER = "armsim-disks"
DEFAULT_BYTES_PER_GIB = 1024 * 1024


@dataclass(frozen=True)
class BlobRef:
    account: str
    container: str
    name: str


def _align_down(value: int) -> int:
    return value - value % PAGE


def _align_up(value: int) -> int:
    return -(-value // PAGE) * PAGE


class DiskStorage:
    """Page-blob operations against Azurite (blocking; called under the registry lock)."""

    def __init__(self, azurite: dict, bytes_per_gib: int = DEFAULT_BYTES_PER_GIB) -> None:
        if bytes_per_gib <= 0 or bytes_per_gib % PAGE:
            raise ValueError(f"bytes_per_gib must be a positive multiple of {PAGE}")
        self.base_url = azurite["blob_base_url"].rstrip("/")
        self.key = azurite["key"]
        self.accounts = list(azurite["accounts"])
        self.bytes_per_gib = bytes_per_gib
        self._services: dict[str, BlobServiceClient] = {}
        self._containers: set[str] = set()
        self._lock = threading.Lock()

    def describe(self) -> dict:
        """The Azurite description this storage was built from."""
        return {"blob_base_url": self.base_url, "accounts": list(self.accounts), "key": self.key}

    # ---------------------------------------------------------------------------- clients
    def account_url(self, account: str) -> str:
        return f"{self.base_url}/{account}"

    def _service(self, account: str) -> BlobServiceClient:
        if account not in self.accounts:
            raise InvalidParameter(f"storage account '{account}' is not served by Azurite "
                                   f"(accounts: {', '.join(self.accounts)})")
        service = self._services.get(account)
        if service is None:
            service = BlobServiceClient(self.account_url(account),
                                        credential={"account_name": account,
                                                    "account_key": self.key})
            self._services[account] = service
        return service

    def _blob(self, ref: BlobRef) -> BlobClient:
        service = self._service(ref.account)
        if (ref.account, ref.container) not in self._containers:
            try:
                service.create_container(ref.container)
            except ResourceExistsError:
                pass
            self._containers.add((ref.account, ref.container))  # type: ignore[arg-type]
        return service.get_blob_client(ref.container, ref.name)

    def forget_all(self) -> None:
        """After a reset: containers may have been emptied by someone else; re-check them."""
        self._containers.clear()

    def size_bytes(self, size_gb: int) -> int:
        return max(1, int(size_gb)) * self.bytes_per_gib

    def ref(self, account: str, name: str) -> BlobRef:
        return BlobRef(account, CONTAINER, name)

    # ---------------------------------------------------------------------------- blobs
    def ensure(self, ref: BlobRef, size: int) -> BlobClient:
        blob = self._blob(ref)
        if not blob.exists():
            blob.create_page_blob(_align_up(size))
        return blob

    def exists(self, ref: BlobRef) -> bool:
        return self._blob(ref).exists()

    def delete(self, ref: BlobRef) -> None:
        try:
            self._blob(ref).delete_blob(delete_snapshots="include")
        except ResourceNotFoundError:
            pass

    def write(self, ref: BlobRef, size: int, offset: int, data: bytes) -> None:
        """Write `data` at `offset` (any alignment: partial pages are read, merged, rewritten)."""
        if offset < 0 or offset + len(data) > size:
            raise InvalidParameter(f"write of {len(data)} bytes at {offset} is outside the disk "
                                   f"({size} bytes of page blob)")
        if not data:
            return
        blob = self.ensure(ref, size)
        start, end = _align_down(offset), _align_up(offset + len(data))
        if start != offset or end != offset + len(data):
            page = bytearray(self.read(ref, start, end - start))
            page[offset - start: offset - start + len(data)] = data
            data, offset = bytes(page), start
        for chunk_start in range(0, len(data), MAX_PAGE_WRITE):
            chunk = data[chunk_start: chunk_start + MAX_PAGE_WRITE]
            blob.upload_page(chunk, offset=offset + chunk_start, length=len(chunk))

    def read(self, ref: BlobRef, offset: int, length: int) -> bytes:
        """Bytes at offset..offset+length; zeros where nothing was written (or no blob yet)."""
        blob = self._blob(ref)
        try:
            props = blob.get_blob_properties()
        except ResourceNotFoundError:
            return bytes(length)
        end = min(props.size, offset + length)
        if offset >= end:
            return bytes(length)
        data = blob.download_blob(offset=offset, length=end - offset).readall()
        return data + bytes(length - len(data))

    def ranges(self, ref: BlobRef) -> list[tuple[int, int]]:
        """Written page ranges as (start, end-exclusive)."""
        blob = self._blob(ref)
        try:
            return [(r.start, r.end + 1) for r in blob.list_page_ranges() if not r.cleared]
        except ResourceNotFoundError:
            return []

    def written_bytes(self, ref: BlobRef) -> int:
        return sum(end - start for start, end in self.ranges(ref))

    def copy(self, source: BlobRef, target: BlobRef, size: int) -> int:
        """Make `target` a byte-for-byte copy of `source` (any accounts); returns bytes copied."""
        self.delete(target)
        blob = self.ensure(target, size)
        source_blob = self._blob(source)
        copied = 0
        for start, end in self.ranges(source):
            end = min(end, size)
            for chunk_start in range(start, end, MAX_PAGE_WRITE):
                length = min(MAX_PAGE_WRITE, end - chunk_start)
                data = source_blob.download_blob(offset=chunk_start, length=length).readall()
                blob.upload_page(data, offset=chunk_start, length=length)
                copied += length
        return copied

    def size_of(self, ref: BlobRef) -> int:
        return self._blob(ref).get_blob_properties().size

    # ---------------------------------------------------------------------------- SAS / URLs
    def read_sas_url(self, ref: BlobRef, size: int, seconds: int) -> str:
        """A read SAS URL (signed with the account key), as beginGetAccess returns."""
        blob = self.ensure(ref, size)
        token = generate_blob_sas(
            account_name=ref.account, container_name=ref.container, blob_name=ref.name,
            account_key=self.key, permission=BlobSasPermissions(read=True),
            expiry=datetime.now(UTC) + timedelta(seconds=max(60, seconds)),
            start=datetime.now(UTC) - timedelta(minutes=5))
        return f"{blob.url}?{token}"

    def parse_blob_url(self, url: str) -> BlobRef:
        """A page blob URL (Azurite style or *.blob.core.windows.net) → BlobRef."""
        parsed = urlparse(url)
        parts = [p for p in parsed.path.split("/") if p]
        if parsed.hostname and parsed.hostname.endswith(".blob.core.windows.net"):
            account = parsed.hostname.split(".")[0]
        elif url.startswith(self.base_url) and parts:
            account, parts = parts[0], parts[1:]
        else:
            raise InvalidParameter(f"sourceUri '{url}' is not a blob of a known storage account",
                                   target="creationData.sourceUri")
        if len(parts) < 2:
            raise InvalidParameter(f"sourceUri '{url}' names no container and blob",
                                   target="creationData.sourceUri")
        return BlobRef(account, parts[0], "/".join(parts[1:]))
