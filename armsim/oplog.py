"""The operation log: one entry per request, with its RBAC action and the region it touched."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class LogEntry:
    seq: int
    time: str  # simulated time, ISO 8601
    principal: str
    method: str
    path: str
    action: str
    region: str
    status: int
    code: str = ""
    fault: str = ""
    # Every (RBAC action, scope) pair the request needed, as armsim checked them: `action` is the
    # first; a VM PUT also needs join on each NIC it names, a NIC PUT join on its subnet.
    actions: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class OperationLog:
    def __init__(self, capacity: int = 200_000) -> None:
        self.entries: deque[LogEntry] = deque(maxlen=capacity)
        self._seq = 0

    def record(self, **fields: Any) -> LogEntry:
        self._seq += 1
        entry = LogEntry(seq=self._seq, **fields)
        self.entries.append(entry)
        return entry

    def clear(self) -> None:
        self.entries.clear()

    def query(self, *, principal: str = "", action: str = "", method: str = "", region: str = "",
              status: int | None = None, path_contains: str = "", since_seq: int = 0,
              limit: int = 0) -> list[dict[str, Any]]:
        found = []
        for entry in self.entries:
            if entry.seq <= since_seq:
                continue
            if principal and entry.principal != principal:
                continue
            if action and entry.action.lower() != action.lower():
                continue
            if method and entry.method != method.upper():
                continue
            if region and entry.region.lower() != region.lower():
                continue
            if status is not None and entry.status != status:
                continue
            if path_contains and path_contains.lower() not in entry.path.lower():
                continue
            found.append(entry.to_dict())
        return found[-limit:] if limit else found
