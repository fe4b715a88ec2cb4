"""Names of the app's orchestrator and activity functions, shared by callers and definitions,
and the retry policies activities are called with."""

from __future__ import annotations

# Orchestrators
PROTECT_PLAN = "protect_plan"
PROTECT_BATCH = "protect_batch"
PROTECT_VM = "protect_vm"
FAILOVER_PLAN = "failover_plan"
FAILOVER_ACTION = "failover_action"

# Protect activities
START_PROTECT_CYCLE = "start_protect_cycle"
BEGIN_RECOVERY_POINT = "begin_recovery_point"
CAPTURE_RECOVERY_POINT = "capture_recovery_point"
START_POINT_COPY = "start_point_copy"
CHECK_POINT_COPY = "check_point_copy"
FINISH_RECOVERY_POINT = "finish_recovery_point"
APPLY_RETENTION = "apply_retention"
FINISH_PROTECT_CYCLE = "finish_protect_cycle"

# Power state of VMs (primary or standby)
DEALLOCATE_VM = "deallocate_vm"
START_VM = "start_vm"

# Failover activities
FAILOVER_PREFLIGHT = "failover_preflight"
VM_POWER_STATES = "vm_power_states"
RECOVER_VM = "recover_vm"
DELETE_RECOVERED_VM = "delete_recovered_vm"
STANDBY_STATE = "standby_state"
RESIZE_STANDBY = "resize_standby"
SCALE_SET_CAPACITY = "scale_set_capacity"
SET_SCALE_SET_CAPACITY = "set_scale_set_capacity"
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
