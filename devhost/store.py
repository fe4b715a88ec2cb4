"""SQLite state of the task hub: instances, history, inboxes, activity work items, timer status.

The layout follows the Azure Storage provider's model, shrunk to one file:

- `instances`  — the Instances table: one row per instance id, the current execution's status;
- `history`    — the History table: events per (instance, execution), in order;
- `messages`   — the control queues: events waiting for the instance's next episode
                 (ExecutionStarted, TaskCompleted, TimerFired with a visibility time, EventRaised,
                 ExecutionTerminated, sub-orchestration results);
- `work_items` — the work-item queue: scheduled activities not yet completed;
- `timer_status` — the timer trigger's schedule monitor (Last / Next).

Every method is one transaction. Only the host's event loop thread touches the connection, so an
episode's check-and-commit and a start's check-and-create are atomic.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from devhost import history as h
from devhost.history import Event
from devhost.orchestration import EpisodeOutcome

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    runtime_status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    failure_details TEXT,
    created_time TEXT NOT NULL,
    last_updated_time TEXT NOT NULL,
    parent_instance_id TEXT,
    parent_execution_id TEXT,
    parent_task_id INTEGER,
    generation INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, execution_id, seq)
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    visible_at TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_instance ON messages (instance_id, visible_at);
CREATE TABLE IF NOT EXISTS work_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT
);
CREATE TABLE IF NOT EXISTS timer_status (
    function_name TEXT PRIMARY KEY,
    last TEXT,
    next TEXT,
    last_updated TEXT
);
"""


@dataclass
class Instance:
    instance_id: str
    name: str
    execution_id: str
    runtime_status: str
    input: str | None
    output: str | None
    custom_status: str | None
    failure_details: str | None
    created_time: str
    last_updated_time: str
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None
    generation: int

    @property
    def terminal(self) -> bool:
        return self.runtime_status in h.TERMINAL_STATUSES


@dataclass
class Message:
    id: int
    instance_id: str
    execution_id: str
    visible_at: str
    event: Event


@dataclass
class WorkItem:
    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass
class StartResult:
    created: bool
    existing_status: str | None = None


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        # WAL + NORMAL survives a killed process (not a power cut), which is what devhost needs.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Tx:
        return _Tx(self._db)

    # --- instances ---------------------------------------------------------------------------

    def get_instance(self, instance_id: str) -> Instance | None:
        row = self._db.execute(
            "SELECT * FROM instances WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        return Instance(**dict(row)) if row else None

    def list_instances(self) -> list[Instance]:
        rows = self._db.execute("SELECT * FROM instances ORDER BY created_time, instance_id")
        return [Instance(**dict(row)) for row in rows]

    def create_instance(
        self,
        *,
        instance_id: str,
        name: str,
        input_text: str | None,
        now: datetime,
        dedupe_statuses: frozenset[str],
    ) -> StartResult:
        """Create (or replace) an instance and queue its ExecutionStarted, atomically.

        `dedupe_statuses` are the statuses in which an existing instance is kept and the start
        refused (host.json overridableExistingInstanceStates).
        """
        with self._transaction() as db:
            existing = db.execute(
                "SELECT runtime_status FROM instances WHERE instance_id = ?", (instance_id,)
            ).fetchone()
            if existing is not None:
                if existing["runtime_status"] in dedupe_statuses:
                    return StartResult(False, existing["runtime_status"])
                self._forget_execution_work(db, instance_id)
            self._insert_instance(db, instance_id, name, input_text, now, parent=None)
        return StartResult(True)

    def _insert_instance(
        self,
        db: sqlite3.Connection,
        instance_id: str,
        name: str,
        input_text: str | None,
        now: datetime,
        parent: tuple[Instance, int] | None,
    ) -> None:
        """A Pending status row for a new execution, and its ExecutionStarted message."""
        execution_id = uuid.uuid4().hex
        stamp = h.format_timestamp(now)
        db.execute(
            "INSERT OR REPLACE INTO instances (instance_id, name, execution_id, runtime_status,"
            " input, output, custom_status, failure_details, created_time, last_updated_time,"
            " parent_instance_id, parent_execution_id, parent_task_id, generation)"
            " VALUES (?, ?, ?, 'Pending', ?, NULL, NULL, NULL, ?, ?, ?, ?, ?, 0)",
            (
                instance_id,
                name,
                execution_id,
                input_text,
                stamp,
                stamp,
                parent[0].instance_id if parent else None,
                parent[0].execution_id if parent else None,
                parent[1] if parent else None,
            ),
        )
        parent_info = None
        if parent is not None:
            parent_info = {
                "Name": parent[0].name,
                "Version": "",
                "TaskScheduleId": parent[1],
                "OrchestrationInstance": {
                    "InstanceId": parent[0].instance_id,
                    "ExecutionId": parent[0].execution_id,
                },
            }
        started = h.execution_started(
            now,
            name=name,
            instance_id=instance_id,
            execution_id=execution_id,
            input_text=input_text,
            parent=parent_info,
        )
        self._put_message(db, instance_id, execution_id, now, started)

    @staticmethod
    def _forget_execution_work(db: sqlite3.Connection, instance_id: str) -> None:
        # The old execution's pending messages and activities die with it; its history rows stay
        # (keyed by the old execution id), as in the Azure Storage History table.
        db.execute("DELETE FROM messages WHERE instance_id = ?", (instance_id,))
        db.execute("DELETE FROM work_items WHERE instance_id = ?", (instance_id,))

    def purge(self, instance_id: str) -> bool:
        with self._transaction() as db:
            deleted = db.execute(
                "DELETE FROM instances WHERE instance_id = ?", (instance_id,)
            ).rowcount
            db.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
            self._forget_execution_work(db, instance_id)
        return deleted > 0

    # --- history and inbox -------------------------------------------------------------------

    def history(self, instance_id: str, execution_id: str) -> list[Event]:
        rows = self._db.execute(
            "SELECT event FROM history WHERE instance_id = ? AND execution_id = ? ORDER BY seq",
            (instance_id, execution_id),
        )
        return [json.loads(row["event"]) for row in rows]

    def send(self, instance_id: str, execution_id: str, event: Event, visible_at: datetime) -> None:
        with self._transaction() as db:
            self._put_message(db, instance_id, execution_id, visible_at, event)

    @staticmethod
    def _put_message(
        db: sqlite3.Connection,
        instance_id: str,
        execution_id: str,
        visible_at: datetime,
        event: Event,
    ) -> None:
        db.execute(
            "INSERT INTO messages (instance_id, execution_id, visible_at, event)"
            " VALUES (?, ?, ?, ?)",
            (instance_id, execution_id, h.format_timestamp(visible_at), json.dumps(event)),
        )

    def messages(self, instance_id: str) -> list[Message]:
        rows = self._db.execute(
            "SELECT * FROM messages WHERE instance_id = ? ORDER BY id", (instance_id,)
        )
        return [
            Message(
                r["id"],
                r["instance_id"],
                r["execution_id"],
                r["visible_at"],
                json.loads(r["event"]),
            )
            for r in rows
        ]

    def drop_messages(self, ids: list[int]) -> None:
        with self._transaction() as db:
            db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in ids])

    def instances_with_messages(self) -> list[tuple[str, str]]:
        """(instance id, earliest visibility) for every instance with a queued message."""
        rows = self._db.execute(
            "SELECT instance_id, MIN(visible_at) AS first FROM messages GROUP BY instance_id"
        )
        return [(row["instance_id"], row["first"]) for row in rows]

    def work_items(self) -> list[WorkItem]:
        rows = self._db.execute("SELECT * FROM work_items ORDER BY id")
        return [WorkItem(**dict(row)) for row in rows]

    def work_item(self, item_id: int) -> WorkItem | None:
        row = self._db.execute("SELECT * FROM work_items WHERE id = ?", (item_id,)).fetchone()
        return WorkItem(**dict(row)) if row else None

    def complete_work_item(self, item: WorkItem, event: Event, now: datetime) -> bool:
        """Queue an activity's result for its instance and drop the work item, atomically."""
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM work_items WHERE id = ?", (item.id,)).rowcount
            if deleted:
                self._put_message(db, item.instance_id, item.execution_id, now, event)
        return bool(deleted)

    # --- episodes ----------------------------------------------------------------------------

    def commit_episode(
        self,
        instance: Instance,
        consumed: list[int],
        outcome: EpisodeOutcome,
        now: datetime,
    ) -> CommitResult:
        """Record an episode: history, status, new work, and notifications, in one transaction."""
        result = CommitResult()
        with self._transaction() as db:
            current = db.execute(
                "SELECT execution_id FROM instances WHERE instance_id = ?", (instance.instance_id,)
            ).fetchone()
            if current is None or current["execution_id"] != instance.execution_id:
                return result  # replaced or purged while the episode ran: drop it
            db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in consumed])
            start = db.execute(
                "SELECT COALESCE(MAX(seq), -1) + 1 FROM history"
                " WHERE instance_id = ? AND execution_id = ?",
                (instance.instance_id, instance.execution_id),
            ).fetchone()[0]
            db.executemany(
                "INSERT INTO history (instance_id, execution_id, seq, event) VALUES (?, ?, ?, ?)",
                [
                    (instance.instance_id, instance.execution_id, start + offset, json.dumps(event))
                    for offset, event in enumerate(outcome.events)
                ],
            )
            stamp = h.format_timestamp(now)
            custom = outcome.custom_status if outcome.has_custom_status else instance.custom_status
            output = outcome.output if outcome.finished else instance.output
            db.execute(
                "UPDATE instances SET runtime_status = ?, output = ?, custom_status = ?,"
                " failure_details = ?, last_updated_time = ? WHERE instance_id = ?",
                (
                    outcome.runtime_status,
                    output,
                    custom,
                    outcome.failure_details,
                    stamp,
                    instance.instance_id,
                ),
            )
            for decision in outcome.decisions:
                if decision.kind == "activity":
                    cursor = db.execute(
                        "INSERT INTO work_items (instance_id, execution_id, task_id, name, input)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (
                            instance.instance_id,
                            instance.execution_id,
                            decision.task_id,
                            decision.name,
                            decision.input_text,
                        ),
                    )
                    result.work_items.append(int(cursor.lastrowid or 0))
                elif decision.kind == "timer":
                    assert decision.fire_at is not None
                    fired = h.timer_fired(decision.fire_at, decision.task_id, decision.fire_at)
                    self._put_message(
                        db, instance.instance_id, instance.execution_id, decision.fire_at, fired
                    )
                    result.timers.append((instance.instance_id, decision.fire_at))
                else:
                    self._start_child(db, instance, decision, now, result)
            if outcome.finished and instance.parent_instance_id:
                self._notify_parent(db, instance, outcome, now, result)
            if outcome.continued_as_new:
                self._continue_as_new(db, instance, outcome, now)
                result.kick.append(instance.instance_id)
            result.committed = True
        return result

    def _start_child(
        self,
        db: sqlite3.Connection,
        parent: Instance,
        decision: Any,
        now: datetime,
        result: CommitResult,
    ) -> None:
        child_id = decision.instance_id
        existing = db.execute(
            "SELECT runtime_status FROM instances WHERE instance_id = ?", (child_id,)
        ).fetchone()
        if existing is not None and existing["runtime_status"] not in h.TERMINAL_STATUSES:
            failed = h.sub_orchestration_failed(
                now,
                decision.task_id,
                f"An Orchestration instance with the status {existing['runtime_status']} "
                "already exists.",
                None,
            )
            self._put_message(db, parent.instance_id, parent.execution_id, now, failed)
            result.kick.append(parent.instance_id)
            return
        if existing is not None:
            self._forget_execution_work(db, child_id)
        self._insert_instance(
            db, child_id, decision.name, decision.input_text, now, parent=(parent, decision.task_id)
        )
        result.kick.append(child_id)

    def _notify_parent(
        self,
        db: sqlite3.Connection,
        child: Instance,
        outcome: EpisodeOutcome,
        now: datetime,
        result: CommitResult,
    ) -> None:
        assert child.parent_instance_id and child.parent_execution_id
        task_id = int(child.parent_task_id or 0)
        if outcome.runtime_status == "Completed":
            event = h.sub_orchestration_completed(now, task_id, outcome.output)
        else:
            event = h.sub_orchestration_failed(
                now, task_id, outcome.output, outcome.failure_details
            )
        self._put_message(db, child.parent_instance_id, child.parent_execution_id, now, event)
        result.kick.append(child.parent_instance_id)

    def _continue_as_new(
        self, db: sqlite3.Connection, instance: Instance, outcome: EpisodeOutcome, now: datetime
    ) -> None:
        execution_id = uuid.uuid4().hex
        generation = instance.generation + 1
        input_text = outcome.continue_as_new_input
        parent = None
        if instance.parent_instance_id:
            parent = {
                "Name": None,
                "Version": "",
                "TaskScheduleId": instance.parent_task_id,
                "OrchestrationInstance": {
                    "InstanceId": instance.parent_instance_id,
                    "ExecutionId": instance.parent_execution_id,
                },
            }
        started = h.execution_started(
            now,
            name=instance.name,
            instance_id=instance.instance_id,
            execution_id=execution_id,
            input_text=input_text,
            parent=parent,
            generation=generation,
        )
        # The status row now describes the new execution, created now.
        db.execute(
            "UPDATE instances SET execution_id = ?, input = ?, output = NULL, generation = ?,"
            " created_time = ? WHERE instance_id = ?",
            (execution_id, input_text, generation, h.format_timestamp(now), instance.instance_id),
        )
        # Unprocessed events of the old execution are not carried over (the extension's
        # ContinueAsNew(input, preserveUnprocessedEvents: false), which the Python SDK uses).
        db.execute("DELETE FROM messages WHERE instance_id = ?", (instance.instance_id,))
        db.execute("DELETE FROM work_items WHERE instance_id = ?", (instance.instance_id,))
        self._put_message(db, instance.instance_id, execution_id, now, started)

    def mark_running(self, instance: Instance, now: datetime) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE instances SET runtime_status = 'Running', last_updated_time = ?"
                " WHERE instance_id = ? AND execution_id = ?",
                (h.format_timestamp(now), instance.instance_id, instance.execution_id),
            )

    # --- timer trigger schedule monitor ------------------------------------------------------

    def timer_status(self, function_name: str) -> dict[str, str | None] | None:
        row = self._db.execute(
            "SELECT last, next, last_updated FROM timer_status WHERE function_name = ?",
            (function_name,),
        ).fetchone()
        return dict(row) if row else None

    def save_timer_status(
        self, function_name: str, last: datetime | None, next_: datetime, now: datetime
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO timer_status (function_name, last, next, last_updated)"
                " VALUES (?, ?, ?, ?)",
                (
                    function_name,
                    h.format_timestamp(last) if last else None,
                    h.format_timestamp(next_),
                    h.format_timestamp(now),
                ),
            )


@dataclass
class CommitResult:
    committed: bool = False

    def __post_init__(self) -> None:
        self.work_items: list[int] = []
        self.timers: list[tuple[str, datetime]] = []
        self.kick: list[str] = []


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
