"""A run lets go of its plan (vmdr/writers.py): the protect, image and backup cycles at their
end, a drill as its cleanup begins. Idempotent: only the run's own token is removed."""

from __future__ import annotations

import azure.durable_functions as df

from vmdr import functions as fn
from vmdr import reverse, writers
from vmdr.catalog import default_catalog

bp = df.Blueprint()


@bp.function_name(fn.RELEASE_PLAN)
@bp.activity_trigger(input_name="request")
def release_plan(request: dict) -> bool:
    # A reverse cycle (`{plan}.back`) holds the forward plan's record.
    return writers.release(default_catalog(), reverse.forward(request["plan"]),
                           request["token"], request.get("handover"))
