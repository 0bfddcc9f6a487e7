"""`pulse evaluate churn LOG`: churn-risk quality from a log, model beside a baseline."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
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
    from streams.evaluation.churn import roc_auc

    churn_at: dict[str, int | None] = {}
    for line in args.truth.read_bytes().splitlines():
        row = orjson.loads(line)
        churn_at[row["user_id"]] = parse_ts(row["churn_ts"]) if row.get("churn_ts") else None
    start = min((point.ts for point in result.scores), default=0)
    points = [p for p in result.scores if p.ts >= start + args.warmup_days * MS_PER_DAY]
    horizon = args.horizon_days * MS_PER_DAY
    labels = [(at := churn_at.get(p.user_id)) is not None and at <= p.ts + horizon for p in points]
    console.print(
        f"against the simulator's truth ({sum(labels):,} of {len(labels):,} points from users "
        f"who truly churn within H): ROC AUC Pulse {roc_auc(labels, [p.model for p in points]):.3f}, "
        f"count heuristic {roc_auc(labels, [p.heuristic for p in points]):.3f}, "
        f"BG/NBD {roc_auc(labels, [p.bg_nbd for p in points]):.3f}"
    )


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
    churn.add_argument(
        "--truth",
        type=Path,
        default=None,
        help="simulator ground truth (sim.truth.jsonl): also AUC against true churn times",
    )
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
    from streams.evaluation.churn import evaluate, score_lines, summary

    if not args.log.is_file():
        return missing(args.log)
    if args.horizon_days <= 0 or args.warmup_days < 0:
        return fail("--horizon-days must be above 0 and --warmup-days at least 0")
    with progress_lines(args.log) as lines:
        keep = args.scores_out is not None or args.truth is not None
        result = evaluate(lines, args.horizon_days, args.warmup_days, keep)
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
    if args.truth is not None:
        print_truth(args, result)
    if args.scores_out is not None:
        with args.scores_out.open("wb") as out:
            for line in score_lines(result):
                out.write(orjson.dumps(line) + b"\n")
        console.print(f"scores: {args.scores_out}")
    return 0
