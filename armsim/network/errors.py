"""Network RP errors (codes as Azure's Network RP returns them)."""

from __future__ import annotations

from armsim.errors import ArmError


class NicInUse(ArmError):
    status, code = 400, "NicInUse"


class InvalidResourceReference(ArmError):
    status, code = 400, "InvalidResourceReference"


class PrivateIPAddressInUse(ArmError):
    status, code = 400, "PrivateIPAddressInUse"


class SubnetIsFull(ArmError):
    status, code = 400, "SubnetIsFull"
