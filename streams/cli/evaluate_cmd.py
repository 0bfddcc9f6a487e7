"""`pulse evaluate churn LOG`: churn-risk quality from a log, model beside a baseline."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from streams.cli.render import byte_progress, console, fail


def missing(log: Path) -> int:
    return fail(
        f"log file {log} does not exist", "make one with: pulse simulate --out sim.jsonl.gz"
    )


@contextmanager
def progress_lines(log: Path) -> Iterator[Iterator[bytes]]:
    """The log's lines, with a progress bar over its bytes while they are read."""
    from streams.logfile import LogReader

    with LogReader(log) as reader, byte_progress(f"evaluating {log.name}") as update:

        def lines() -> Iterator[bytes]:
            for number, line in enumerate(reader, start=1):
                if number % 20_000 == 0:
                    update(reader.position(), reader.size)
                yield line

        yield lines()


def print_truth(args: argparse.Namespace, result: Any) -> None:
    """AUC against the simulator's own churn times: did the user really stop within H?"""
    from streams.core.timefmt import MS_PER_DAY, parse_ts
    from streams.evaluation.churn import truth_auc

    churn_at: dict[str, int | None] = {}
    for line in args.truth.read_bytes().splitlines():
        row = orjson.loads(line)
        churn_at[row["user_id"]] = parse_ts(row["churn_ts"]) if row.get("churn_ts") else None
    end = result.last_ts or 0
    horizon = args.horizon_days * MS_PER_DAY
    points = [p for p in result.scores if p.ts >= result.stats.count_from and p.ts + horizon <= end]
    labels = [(at := churn_at.get(p.user_id)) is not None and at <= p.ts + horizon for p in points]
    console.print(
        f"against the simulator's truth ({sum(labels):,} of {len(labels):,} points from users "
        f"who truly stop within H): ROC AUC Pulse {truth_auc(labels, [p.score for p in points]):.3f}, "
        f"BG/NBD {truth_auc(labels, [p.inputs[0] for p in points]):.3f}"
    )


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "evaluate", help="measure model quality on a recorded log (labels from the log)"
    )
    targets = parser.add_subparsers(dest="target", metavar="MODEL", required=True)
    churn = targets.add_parser(
        "churn",
        help="churn risk at every purchase and rescoring: ROC AUC, log loss and calibration "
        "of the score, each of its inputs and 1/(1+orders)",
    )
    churn.add_argument("log", type=Path)
    churn.add_argument(
        "--horizon-days", type=int, default=90, help="churn = no purchase within H days"
    )
    churn.add_argument(
        "--warmup-days", type=float, default=30.0, help="points before this are not scored"
    )
    churn.add_argument(
        "--scores-out", type=Path, default=None, help="one JSON line per prediction point"
    )
    churn.add_argument(
        "--truth",
        type=Path,
        default=None,
        help="simulator ground truth (sim.truth.jsonl): also AUC against true churn times",
    )
    churn.add_argument("--json", action="store_true", help="print the figures as JSON")
    churn.set_defaults(run=run_churn)
    reco = targets.add_parser(
        "reco",
        help="recommendations: hit rate on the next purchase, Pulse vs popularity and "
        "recently viewed",
    )
    reco.add_argument("log", type=Path)
    reco.add_argument("--k", type=int, default=10, help="items recommended (default 10)")
    reco.add_argument(
        "--warmup-days", type=float, default=1.0, help="purchases before this are not scored"
    )
    reco.set_defaults(run=run_reco)


def run_reco(args: argparse.Namespace) -> int:
    from streams.evaluation.reco import evaluate_reco

    if not args.log.is_file():
        return missing(args.log)
    if args.k < 1 or args.warmup_days < 0:
        return fail("--k must be at least 1 and --warmup-days at least 0")
    with progress_lines(args.log) as lines:
        figures = evaluate_reco(lines, args.k, args.warmup_days).summary()
    table = Table(
        title=f"Next purchase in the top {args.k}, asked before learning from it "
        f"(after {args.warmup_days:g} days of warm-up)",
        title_justify="left",
    )
    table.add_column("recommender")
    table.add_column("hit rate", justify="right")
    table.add_column("on new-item baskets", justify="right")
    for name, label in (
        ("pulse", "Pulse (item co-occurrence + recent items)"),
        ("popularity", "most popular so far"),
        ("recently_viewed", "user's recently viewed items"),
    ):
        rates = (figures["hit_rate"][name], figures["new_item_hit_rate"][name])
        table.add_row(label, *("n/a" if rate is None else f"{rate:.1%}" for rate in rates))
    console.print(table)
    console.print(
        f"{figures['scored_after_warmup']:,} baskets scored of {figures['baskets']:,} "
        f"({figures['new_item_baskets']:,} with only items new to the user); "
        f"{figures['items_tracked_at_end']:,} items tracked at the end (bounded); "
        f"{figures['invalid_lines']:,} invalid lines skipped"
    )
    return 0


def run_churn(args: argparse.Namespace) -> int:
    from streams.evaluation.churn import (
        LogTooShort,
        MostlyRejected,
        evaluate,
        rows,
        score_lines,
        summary,
    )

    if not args.log.is_file():
        return missing(args.log)
    if args.horizon_days < 1 or args.warmup_days < 0:
        return fail("--horizon-days must be at least 1 and --warmup-days at least 0")
    try:
        with progress_lines(args.log) as lines:
            keep = args.scores_out is not None or args.truth is not None
            result = evaluate(lines, args.horizon_days, args.warmup_days, keep)
    except LogTooShort as exc:
        return fail(
            f"{args.log}: {exc}: no label would be final",
            "use a longer log, or lower --warmup-days / --horizon-days",
        )
    except MostlyRejected as exc:
        return fail(
            f"{args.log}: {exc}",
            f"check the log's format with: pulse replay {args.log} --out out/ "
            "(dead-letters.jsonl says why each record was refused)",
        )
    figures = summary(result)
    if args.scores_out is not None:
        with args.scores_out.open("wb") as out:
            for line in score_lines(result):
                out.write(orjson.dumps(line) + b"\n")
        if not args.json:  # --json prints the figures alone, for a pipe
            console.print(f"scores: {args.scores_out}")
    if args.json:
        console.print_json(data=figures)
        return 0
    table = Table(
        title=f"Churn = no purchase within {args.horizon_days} days; every purchase and "
        f"rescoring is a point, counted when its label is final, after {args.warmup_days:g} "
        "days of warm-up",
        title_justify="left",
    )
    for column in ("scorer", "ROC AUC (higher is better)", "log loss (lower is better)"):
        table.add_column(column, justify="left" if column == "scorer" else "right")
    for label, quality in rows(figures):
        table.add_row(label, *(_figure(quality[key]) for key in ("roc_auc", "log_loss")))
    console.print(table)
    console.print(
        f"{figures['final_labels']:,} final labels counted (churn rate "
        f"{_percent(figures['churn_rate'])}) of {figures['prediction_points']:,} prediction "
        f"points ({figures['rescored_points']:,} rescorings of quiet customers); "
        f"{figures['rejected']:,} of {figures['records']:,} records rejected"
    )
    _print_mixture(console, figures["mixture_at_end"])
    months = figures["calibration_by_month"]
    if months:
        calibration = Table(title="Calibration by month of prediction", title_justify="left")
        for column in ("month", "points", "mean score", "churn rate"):
            calibration.add_column(column, justify="left" if column == "month" else "right")
        for row in months:
            calibration.add_row(
                row["month"],
                f"{row['points']:,}",
                f"{row['mean_score']:.3f}",
                f"{row['churn_rate']:.3f}",
            )
        console.print(calibration)
    if args.truth is not None:
        print_truth(args, result)
    return 0


def _print_mixture(console: Console, mixture: dict[str, dict[str, float]]) -> None:
    """Why the score leans on the inputs it does: each one's weight at the end of the log,
    and how many final labels measured a forecast of its own (a learned input takes part
    only once 100 have)."""
    if not mixture:
        return
    table = Table(
        title="The score's mix at the end of the log (a learned input joins once 100 "
        "labels have measured forecasts of its own)",
        title_justify="left",
    )
    for column in ("input", "weight", "labels that measured it"):
        table.add_column(column, justify="left" if column == "input" else "right")
    for name, row in mixture.items():
        table.add_row(name, f"{row['weight']:.3f}", f"{int(row['measured_labels']):,}")
    console.print(table)


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
