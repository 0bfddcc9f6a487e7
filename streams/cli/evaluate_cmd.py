"""`pulse evaluate churn LOG`: churn-risk quality from a log, model beside a baseline."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson
from rich.table import Table

from streams.cli.render import byte_progress, console, fail


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "evaluate", help="measure model quality on a recorded log (labels from the log)"
    )
    targets = parser.add_subparsers(dest="target", metavar="MODEL", required=True)
    churn = targets.add_parser(
        "churn",
        help="churn risk at every purchase: ROC AUC and log loss, model vs count heuristic "
        "and BG/NBD",
    )
    churn.add_argument("log", type=Path)
    churn.add_argument(
        "--horizon-days", type=float, default=90.0, help="churn = no purchase within H days"
    )
    churn.add_argument(
        "--warmup-days", type=float, default=30.0, help="points before this are not scored"
    )
    churn.add_argument(
        "--scores-out", type=Path, default=None, help="one JSON line per prediction point"
    )
    churn.set_defaults(run=run_churn)


def run_churn(args: argparse.Namespace) -> int:
    from streams.evaluation.churn import evaluate, score_lines, summary
    from streams.logfile import LogReader

    if not args.log.is_file():
        return fail(
            f"log file {args.log} does not exist",
            "make one with: pulse simulate --out sim.jsonl.gz",
        )
    if args.horizon_days <= 0 or args.warmup_days < 0:
        return fail("--horizon-days must be above 0 and --warmup-days at least 0")
    with LogReader(args.log) as reader, byte_progress(f"evaluating {args.log.name}") as update:

        def lines() -> Any:
            for number, line in enumerate(reader, start=1):
                if number % 20_000 == 0:
                    update(reader.position(), reader.size)
                yield line

        result = evaluate(lines(), args.horizon_days, args.warmup_days, args.scores_out is not None)
    figures = summary(result)
    table = Table(
        title=f"Churn within {args.horizon_days:g} days, scored at every purchase after "
        f"{args.warmup_days:g} days of warm-up",
        title_justify="left",
    )
    for column in ("scorer", "ROC AUC (higher is better)", "log loss (lower is better)"):
        table.add_column(column, justify="left" if column == "scorer" else "right")
    for name, label in (
        ("model", "Pulse churn score (River, blended with the prior)"),
        ("count_heuristic", "count heuristic"),
        ("bg_nbd", "BG/NBD (refitted every 30 days)"),
    ):
        table.add_row(label, f"{figures[name]['roc_auc']:.3f}", f"{figures[name]['log_loss']:.3f}")
    console.print(table)
    console.print(
        f"{figures['scored_after_warmup']:,} resolved points scored (churn rate "
        f"{figures['churn_rate']:.1%}), {figures['prediction_points']:,} prediction points, "
        f"{figures['unresolved_at_end']:,} unresolved at the end of the log, "
        f"{figures['invalid_lines']:,} invalid lines skipped"
    )
    if args.scores_out is not None:
        with args.scores_out.open("wb") as out:
            for line in score_lines(result):
                out.write(orjson.dumps(line) + b"\n")
        console.print(f"scores: {args.scores_out}")
    return 0
