"""One asynchronous ARM operation (its state); `lro.py` starts, preempts and answers them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from armsim.timestamps import iso


@dataclass(eq=False)
class Operation:
    """One asynchronous ARM operation, pollable through its status URLs."""

    id: str
    subscription: str
    region: str
    provider: str  # Microsoft.Compute | Microsoft.Network
    collection: str  # "operations" | "DiskOperations"
    action: str  # the RBAC action that started it
    resource_id: str
    method: str
    started: datetime
    due: datetime
    headers: str  # "both" | "azure-async-operation" | "location"
    status: str = "InProgress"
    error: dict[str, Any] | None = None
    # the body of the final Location response (POST results such as accessSAS); None = empty
    output: Callable[[], dict[str, Any] | None] | None = None
    ended: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The Azure-AsyncOperation status document."""
        doc: dict[str, Any] = {"startTime": iso(self.started), "status": self.status,
                               "name": self.id}
        if self.ended is not None:
            doc["endTime"] = iso(self.ended)
        if self.status == "Succeeded" and self.output is not None:
            output = self.output()
            if output is not None:
                doc["properties"] = {"output": output}
        if self.error:
            doc["error"] = self.error
        return doc
