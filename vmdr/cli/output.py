"""What commands print: Rich tables for people, `--output json` for scripts, and the options
every remote command takes (--url, --key, --output)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vmdr.cli.client import BAD_INPUT, Client, CliFailure

STATE_STYLES = {"succeeded": "green", "running": "yellow", "failed": "red", "rolled-back": "red",
                "compensated": "magenta", "skipped": "dim", "pending": "dim",
                "recovering": "yellow", "recovered": "green", "Completed": "green",
                "Running": "yellow", "Failed": "red", "Terminated": "red"}


@dataclass
class Session:
    client: Client
    output: str

    @property
    def as_json(self) -> bool:
        return self.output == "json"

    def emit(self, data: Any, render: Callable[[Console, Any], None]) -> None:
        if self.as_json:
            click.echo(json.dumps(data, indent=2, default=str))
        else:
            render(console(), data)


def console() -> Console:
    # Created per call, so that it writes to the stdout of the moment (click's test runner).
    return Console(highlight=False, soft_wrap=True)


def remote(command: Callable) -> Callable:
    """--url, --key and --output for a command that talks to a running vmdr; the command gets a
    `session` argument instead."""

    @click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table",
                  show_default=True, help="json: the API's answer, for scripts")
    @click.option("--key", envvar="VMDR_KEY", default=None, show_default=False,
                  help="function key (default: $VMDR_KEY); never printed")
    @click.option("--url", envvar="VMDR_URL", default=None, show_default=False,
                  help="the app's base URL, e.g. https://func-vmdr.azurewebsites.net "
                       "(default: $VMDR_URL)")
    @click.pass_context
    def wrapper(ctx: click.Context, url: str | None, key: str | None, output: str, **kwargs):
        if not url:
            raise CliFailure("no vmdr URL: pass --url or set VMDR_URL", BAD_INPUT)
        return ctx.invoke(command, Session(Client(url, key), output), **kwargs)

    wrapper.__name__ = command.__name__
    wrapper.__doc__ = command.__doc__
    return wrapper


def styled(state: Any) -> str:
    text = str(state) if state is not None else "-"
    style = STATE_STYLES.get(text)
    return f"[{style}]{escape(text)}[/]" if style else escape(text)


def plain(value: Any) -> str:
    """Text from the API, printed as it is (never read as Rich markup)."""
    return escape(str(value))


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*["-" if cell is None else str(cell) for cell in row])
    return grid


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def between(start: str | None, end: str | None) -> float | None:
    a, b = parse_time(start), parse_time(end)
    return (b - a).total_seconds() if a and b else None
