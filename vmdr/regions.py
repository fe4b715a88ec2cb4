"""Azure region names as ARM writes them in `location` (lower case, no spaces).

Public-cloud physical regions as listed by `az account list-locations` (late 2026), plus the US
Government and China clouds. A region Azure opens later can be allowed without a release through
the `VMDR_EXTRA_REGIONS` setting (comma-separated names).
"""

from __future__ import annotations

import difflib
import os

PUBLIC_REGIONS = frozenset(
    """
    australiacentral australiacentral2 australiaeast australiasoutheast austriaeast
    belgiumcentral brazilsouth brazilsoutheast canadacentral canadaeast centralindia centralus
    centraluseuap chilecentral eastasia eastus eastus2 eastus2euap francecentral francesouth
    germanynorth germanywestcentral indonesiacentral israelcentral italynorth japaneast
    japanwest jioindiacentral jioindiawest koreacentral koreasouth malaysiawest mexicocentral
    newzealandnorth northcentralus northeurope norwayeast norwaywest polandcentral qatarcentral
    southafricanorth southafricawest southcentralus southeastasia southindia spaincentral
    swedencentral swedensouth switzerlandnorth switzerlandwest uaecentral uaenorth uksouth ukwest
    westcentralus westeurope westindia westus westus2 westus3
    """.split()
)
SOVEREIGN_REGIONS = frozenset(
    """
    usgovarizona usgovtexas usgovvirginia usdodcentral usdodeast
    chinaeast chinaeast2 chinaeast3 chinanorth chinanorth2 chinanorth3
    """.split()
)
EXTRA_REGIONS_SETTING = "VMDR_EXTRA_REGIONS"


def known_regions() -> frozenset[str]:
    extra = os.environ.get(EXTRA_REGIONS_SETTING, "")
    return PUBLIC_REGIONS | SOVEREIGN_REGIONS | {r.strip().lower() for r in extra.split(",") if r}


def normalise(name: str) -> str:
    """`West Europe` and `westeurope` are the same region to ARM."""
    return name.replace(" ", "").lower()


def unknown_region_message(name: str) -> str:
    """Why `name` is refused, with the closest known names as a hint."""
    close = difflib.get_close_matches(normalise(name), sorted(known_regions()), n=2)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return (
        f"{name!r} is not an Azure region name{hint} "
        f"(a region opened recently can be allowed with the {EXTRA_REGIONS_SETTING} setting)"
    )
