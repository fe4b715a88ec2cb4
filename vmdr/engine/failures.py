"""A resource Azure keeps failing: asked for again a few times, then given up on — with Azure's
own error code and message, for the report, the run's status and the log.

An advance asks Azure for a change without waiting (`arm.begin`) and finds the outcome later in
the resource's provisioning state, which says `Failed` but not why. The long-running operation
says why: its Azure-AsyncOperation document ends `{"status": "Failed", "error": {"code",
"message"}}`, and its Location URL answers with an ARM error body (the two azure-mgmt-core's ARM
polling reads). So an advance keeps the status URL of each request it repeats after a failure —
in its memo, for failed resources only, so histories stay small — and when it gives up it reads
that operation once: "the VM's creation failed 3 times (name); last: AllocationFailed: …".
A request Azure refuses at once carries its ARM error body: `errors.cause_of`.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError
from azure.core.rest import HttpRequest

from vmdr import arm_ids
from vmdr.azure import AzureClients
from vmdr.engine import observe
from vmdr.engine.arm import Accepted
from vmdr.engine.progress import MAX_NAMED, Progress
from vmdr.errors import cause, cause_of

# A resource Azure failed is asked for again this many times before it is given up on.
RETRIES = 2
_OPERATION = "@operation"


def retry(progress: Progress, key: str, what: str, why: str,
          last: Callable[[], str | None], name: str | None = None) -> bool:
    """Count one more failure of `key` (in the memo); True: ask again. Once RETRIES are spent,
    False: `what` fails with `why`, how many times, the resource's `name` and Azure's last error
    (`last()`, read only for the failures the progress names)."""
    count = int(progress.memo.get(key, 0))
    if count < RETRIES:
        progress.memo[key] = count + 1
        return True
    text = f"{why} {count + 1} times" + (f" ({name})" if name else "")
    if len(progress.failed) < MAX_NAMED:
        seen = last()
        if seen:
            text += f"; last: {seen}"
    progress.fail(what, text)
    return False


def ask_again(clients: AzureClients, subscription_id: str, progress: Progress, key: str,
              what: str, why: str, vm_id: str | None = None, name: str | None = None) -> bool:
    """`retry`, Azure's last error read from the operation last asked for `key` (for a VM, else
    from its instance view)."""
    return retry(progress, key, what, why,
                 lambda: last_error(clients, subscription_id, progress, key, vm_id), name)


def remembered(progress: Progress, key: str,
               request: Callable[[], Accepted]) -> Callable[[], None]:
    """`request` (asked again after a failure), its operation's status URL kept in the memo."""

    def run() -> None:
        accepted = request()
        url = accepted.async_operation or accepted.location
        if url:
            progress.memo[key + _OPERATION] = url

    return run


def last_error(clients: AzureClients, subscription_id: str, progress: Progress, key: str,
               vm_id: str | None = None) -> str | None:
    """Azure's error of the last operation asked for `key` (its status URL in the memo); for a
    VM without one, its instance view's (`ProvisioningState/failed/<code>` and message)."""
    url = progress.memo.get(key + _OPERATION)
    seen = operation_error(clients, subscription_id, url) if url else None
    if seen is None and vm_id:
        rid = arm_ids.parse(vm_id)
        try:
            seen = observe.failure_of(clients.compute(rid.subscription_id).virtual_machines
                                      .instance_view(rid.resource_group, rid.name))
        except AzureError as exc:
            return f"(its instance view could not be read: {cause_of(exc)})"
    return seen


def operation_error(clients: AzureClients, subscription_id: str, url: str) -> str | None:
    """`Code: message` of a failed long-running operation, from its status URL; None when it
    did not fail (or says nothing). Only URLs of the ARM endpoint are read: the request carries
    the app's token."""
    if not _on_arm(clients, url):
        return None
    try:
        response = clients.compute(subscription_id).send_request(HttpRequest("GET", url))
        body = response.json() if response.content else {}
    except (AzureError, ValueError) as exc:
        return f"(its operation could not be read: {cause_of(exc)})"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    return cause(error.get("code"), error.get("message"))


def _on_arm(clients: AzureClients, url: str) -> bool:
    endpoint = urlsplit(clients.settings.arm_endpoint)
    seen = urlsplit(url)
    return (seen.scheme, seen.netloc.lower()) == (endpoint.scheme, endpoint.netloc.lower())
