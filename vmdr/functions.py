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
RECORD_POWER = "record_power"
ADVANCE_POWER = "advance_power"
RECORD_GROUP = "record_group"
ADVANCE_RECOVERY = "advance_recovery"
ADVANCE_UNDO_GROUP = "advance_undo_group"
ADVANCE_HEALTH = "advance_health"
ENDPOINT_STATUSES = "endpoint_statuses"
SET_ENDPOINT_STATUSES = "set_endpoint_statuses"
DNS_ANSWER = "dns_answer"
PROBE_HEALTH = "probe_health"
WRITE_RUN_REPORT = "write_run_report"
# Each compensation, as it is recorded, in the run's journal (vmdr/failover/journal.py)
RECORD_COMPENSATION = "record_compensation"

# Failback activities (and its saga)
FAILBACK_PLAN = "failback_plan"
FAILBACK_PREFLIGHT = "failback_preflight"
RECORD_PRIMARY_DISKS = "record_primary_disks"
ADVANCE_RESTORE_PRIMARY = "advance_restore_primary"
ADVANCE_UNDO_RESTORE = "advance_undo_restore"
ADVANCE_STANDBY_SHAPE = "advance_standby_shape"
ADVANCE_CLEAN_SECONDARY = "advance_clean_secondary"
ADVANCE_RETIRE_REVERSE = "advance_retire_reverse"

# Hooks of a group, around its recovery in every saga (vmdr/ops/hooks.py)
ADVANCE_HOOK = "advance_hook"

# Drill activities (and its saga)
DRILL_PLAN = "drill_plan"
DRILL_PREFLIGHT = "drill_preflight"
ADVANCE_DRILL_PROOF = "advance_drill_proof"
# The sweep of what runs left behind (vmdr/sweep.py)
SWEEP_PLAN = "sweep_plan"
ADVANCE_SWEEP = "advance_sweep"

# Application backups copied to the secondary (vmdr/backups/)
BACKUP_PLAN = "backup_plan"
ADVANCE_BACKUPS = "advance_backups"

# Image cycles (strategy image): capture, replicate, prune (vmdr/images.py)
IMAGES_PLAN = "images_plan"
START_IMAGE_CYCLE = "start_image_cycle"
ADVANCE_IMAGE_CYCLE = "advance_image_cycle"
FINISH_IMAGE_CYCLE = "finish_image_cycle"

# An operator's compensation of a plan that needs attention (orchestrators/resolve.py)
RESOLVE_PLAN = "resolve_plan"
RESOLVE_PREFLIGHT = "resolve_preflight"

# A run lets go of its plan; a failover waits for the runs it pre-empted (vmdr/writers.py)
RELEASE_PLAN = "release_plan"
ADVANCE_HANDOVER = "advance_handover"

# External events a running failover listens for
APPROVE_EVENT = "approve"
REJECT_EVENT = "reject"
ABORT_EVENT = "abort"

# Instance ids (DESIGN §4): one protect cycle, one failover and one drill per plan at a time.


def protect_instance(plan: str) -> str:
    return f"protect-{plan}"


def failover_instance(plan: str) -> str:
    return f"failover-{plan}"


def failback_instance(plan: str) -> str:
    return f"failback-{plan}"


def drill_instance(plan: str) -> str:
    return f"drill-{plan}"


def resolve_instance(plan: str) -> str:
    return f"resolve-{plan}"


def sweep_instance(plan: str) -> str:
    return f"sweep-{plan}"


def backups_instance(plan: str) -> str:
    """One backup cycle per plan at a time (all its sets)."""
    return f"backups-{plan}"

def images_instance(plan: str) -> str:
    """One image cycle per plan at a time."""
    return f"images-{plan}"


# Retry policy of activities (the host retries; Python sends first interval and attempts only).
RETRY_FIRST_INTERVAL_MS = 5_000
RETRY_ATTEMPTS = 4
