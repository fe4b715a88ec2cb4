"""Recovery Services errors: ARM's own codes (the backup service's answers for what armsim
refuses are not modelled; seeding refuses what Azure would instead)."""

from __future__ import annotations

from armsim.errors import ArmError, BadRequest, ResourceNotFound  # noqa: F401 - re-exported


class VaultNotFound(ResourceNotFound):
    """A vault that does not exist: ARM's ResourceNotFound wording for a tracked resource."""
