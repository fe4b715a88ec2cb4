"""Names of the app's orchestrator and activity functions, shared by callers and definitions,
and the retry policies activities are called with."""

from __future__ import annotations

# Orchestrators
PROTECT_PLAN = "protect_plan"
FAILOVER_PLAN = "failover_plan"
# Calls an advance activity until it is done (orchestrators/converge.py).
CONVERGE = "converge"

# Protect activities
START_PROTECT_CYCLE = "start_protect_cycle"
ADVANCE_PROTECT_CYCLE = "advance_protect_cycle"
FINISH_PROTECT_CYCLE = "finish_protect_cycle"

# Failover activities (advance_*: one step towards a wanted state; see vmdr.engine)
FAILOVER_PREFLIGHT = "failover_preflight"
RECORD_PRIMARY_POWER = "record_primary_power"
ADVANCE_PRIMARY_POWER = "advance_primary_power"
RECORD_GROUP = "record_group"
ADVANCE_RECOVERY = "advance_recovery"
ADVANCE_UNDO_GROUP = "advance_undo_group"
ADVANCE_HEALTH = "advance_health"
ENDPOINT_STATUSES = "endpoint_statuses"
SET_ENDPOINT_STATUSES = "set_endpoint_statuses"
DNS_ANSWER = "dns_answer"
PROBE_HEALTH = "probe_health"
WRITE_RUN_REPORT = "write_run_report"

# External events a running failover listens for
APPROVE_EVENT = "approve"
REJECT_EVENT = "reject"
ABORT_EVENT = "abort"

# Instance ids (DESIGN §4): one protect cycle and one failover per plan at a time.


def protect_instance(plan: str) -> str:
    return f"protect-{plan}"


def failover_instance(plan: str) -> str:
    return f"failover-{plan}"


# Retry policy of activities (the host retries; Python sends first interval and attempts only).
RETRY_FIRST_INTERVAL_MS = 5_000
RETRY_ATTEMPTS = 4
