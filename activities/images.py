"""Image cycle activities: parse the input, call vmdr.images, return a small JSON-able result."""

from __future__ import annotations

from datetime import datetime

import azure.durable_functions as df

from vmdr import clock, images
from vmdr import functions as fn
from vmdr.azure import clients
from vmdr.catalog import default_catalog
from vmdr.errors import reraise_azure

bp = df.Blueprint()


@bp.function_name(fn.START_IMAGE_CYCLE)
@bp.activity_trigger(input_name="request")
@reraise_azure
def start_image_cycle(request: dict) -> dict:
    return images.start_cycle(default_catalog(), images.StartImageCycle(**request), clients())


@bp.function_name(fn.ADVANCE_IMAGE_CYCLE)
@bp.activity_trigger(input_name="request")
@reraise_azure
def advance_image_cycle(request: dict) -> dict:
    # Azure's time, not the orchestration's: a capture's moment is when Azure accepted it.
    return images.advance_cycle(default_catalog(), clients(), images.ImageCycleRef(**request),
                                clock.utcnow())


@bp.function_name(fn.FINISH_IMAGE_CYCLE)
@bp.activity_trigger(input_name="request")
@reraise_azure
def finish_image_cycle(request: dict) -> dict:
    return images.finish_cycle(default_catalog(), request["plan"], request["vms"],
                               request["version"], datetime.fromisoformat(request["now"]),
                               request.get("why"))
