"""`python -m vmdr`: the operator's command line, a client of a running vmdr (its HTTP API),
plus the offline plan-file checks.

Exit codes: 0 ok; 1 the run did not succeed (failed, rolled back, rejected, aborted) or a plan
file has problems; 2 usage or bad input; 3 not found; 4 conflict (wrong state, already running);
5 cannot reach vmdr, the key was refused, or vmdr failed.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from vmdr.cli.drills import drill
from vmdr.cli.plans import plan, plans
from vmdr.cli.protect import protect
from vmdr.cli.runs import runs
from vmdr.cli.saga import failback, failover, reprotect


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """vmdr: disaster recovery for Azure VMs.

    Remote commands need the app's URL and function key: --url/--key or VMDR_URL/VMDR_KEY.
    Exit codes: 0 ok, 1 run failed or rolled back, 2 usage or bad input, 3 not found,
    4 conflict, 5 cannot reach vmdr or key refused.
    """


for command in (plans, plan, protect, failover, failback, reprotect, drill, runs):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="python -m vmdr")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
