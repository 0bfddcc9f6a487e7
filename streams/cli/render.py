"""Terminal output: readable tables and progress bars (rich), never raw dicts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

console = Console(stderr=False, highlight=False)
errors = Console(stderr=True, highlight=False)


def fail(message: str, fix: str = "") -> int:
    """Print an error with what to do about it; returns the exit code to use."""
    errors.print(f"[bold red]error:[/] {message}")
    if fix:
        errors.print(f"[yellow]what to do:[/] {fix}")
    return 2


def counts_table(
    title: str, counts: Mapping[str, int | float], key_header: str, value_header: str = "count"
) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column(key_header)
    table.add_column(value_header, justify="right")
    for key, value in counts.items():
        table.add_row(str(key), f"{value:,}" if isinstance(value, int) else f"{value:,.2f}")
    if not counts:
        table.add_row("(none)", "0")
    return table


def populations_table(populations: Mapping[str, Mapping[str, int]]) -> Table:
    table = Table(title="Segment populations at the end", title_justify="left", show_edge=False)
    table.add_column("dimension")
    table.add_column("segment")
    table.add_column("users", justify="right")
    for dimension, values in populations.items():
        for index, (value, count) in enumerate(sorted(values.items(), key=lambda kv: -kv[1])):
            table.add_row(dimension if index == 0 else "", value, f"{count:,}")
    return table


def summary_tables(summary: Mapping[str, Any]) -> list[Table]:
    headline = Table(title="Replay", title_justify="left", show_edge=False, show_header=False)
    headline.add_column("what")
    headline.add_column("value", justify="right")
    headline.add_row("records read", f"{summary['records']:,}")
    headline.add_row("accepted", f"{summary['accepted']:,}")
    headline.add_row("rejected (dead letters)", f"{sum(summary['rejected_by_reason'].values()):,}")
    headline.add_row("users in state", f"{summary['users']:,}")
    headline.add_row("seconds", f"{summary['seconds']:,.2f}")
    headline.add_row("events/s", f"{summary['records_per_second']:,.0f}")
    return [
        headline,
        counts_table("Events by type", summary["events_by_type"], "type"),
        counts_table("Rejected by reason", summary["rejected_by_reason"], "reason"),
        counts_table("Output events by topic", summary["outputs_by_topic"], "topic"),
        populations_table(summary["segment_populations"]),
    ]


@contextmanager
def byte_progress(description: str, enabled: bool = True) -> Iterator[Any]:
    """A progress bar over bytes; yields `update(done, total)`."""
    if not enabled:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


@contextmanager
def count_progress(description: str, total: int, enabled: bool = True) -> Iterator[Any]:
    """A progress bar over a known count; yields `update(done)`."""
    if not enabled:
        yield lambda done: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        last = [0]

        def update(done: int) -> None:
            # `total` may be an estimate: the bar grows past it rather than stalling.
            last[0] = done
            progress.update(task, completed=done, total=max(total, done))

        yield update
        # Done: the bar ends full, however far the estimate was from the real count.
        progress.update(task, completed=max(last[0], 1), total=max(last[0], 1))
