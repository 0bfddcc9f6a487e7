"""`pulse report html OUT_DIR`: one self-contained HTML page of a replay's results.

What a marketer and an analyst look at first: uplift per campaign and variant with its
95 % interval, campaign outcomes by reason, churn calibration and AUC month by month,
segment populations over event time and the lifecycle's flows. Everything is read from
the replay's own files (summary.json, segment-changes.jsonl) and drawn as inline SVG
(streams/charts.py): the page opens offline, runs no script and loads nothing.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from streams import charts
from streams.core.timefmt import MS_PER_DAY, format_ts, parse_ts
from streams.core.uplift import campaign_table, merge

TRACKED = ("lifecycle", "value_tier")  # dimensions drawn over time


class ReportError(ValueError):
    """The folder is not the output of a `pulse replay`."""


def _changes(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)


def populations_over_time(
    changes: Iterator[dict[str, Any]],
) -> tuple[dict[str, dict[str, list[tuple[float, float]]]], Counter[tuple[str, str]], int]:
    """Per tracked dimension, each segment's population at the end of each day; the
    lifecycle's (from, to) counts; the first day (days since 1970).

    >>> rows = [{"dimension": "lifecycle", "from": None, "to": "new", "ts": "2026-01-01T10:00:00Z"},
    ...         {"dimension": "lifecycle", "from": "new", "to": "active", "ts": "2026-01-03T10:00:00Z"}]
    >>> series, flows, first = populations_over_time(iter(rows))
    >>> series["lifecycle"]["new"], flows[("new", "active")]
    ([(0.0, 1.0), (2.0, 0.0)], 1)
    """
    counts: dict[str, Counter[str]] = {dimension: Counter() for dimension in TRACKED}
    series: dict[str, dict[str, list[tuple[float, float]]]] = {d: {} for d in TRACKED}
    flows: Counter[tuple[str, str]] = Counter()
    first: int | None = None
    day: int | None = None

    def snapshot(at: int) -> None:
        for dimension, by_segment in counts.items():
            for segment, n in by_segment.items():
                series[dimension].setdefault(segment, []).append(
                    (float(at - (first or 0)), float(n))
                )

    for change in changes:
        dimension = change.get("dimension")
        if dimension not in counts:
            continue
        today = parse_ts(change["ts"]) // MS_PER_DAY
        first = today if first is None else first
        if day is not None and today != day:
            snapshot(day)
        day = today
        old, new = change.get("from"), change.get("to")
        if old:
            counts[dimension][old] -= 1
        if new and new not in ("expired", "erased"):
            counts[dimension][new] += 1
        if dimension == "lifecycle":
            flows[(old or "none", new or "none")] += 1
    if day is not None:
        snapshot(day)
    return series, flows, first or 0


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{''.join(parts)}</section>"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def build(out_dir: Path) -> str:
    """The page for a replay's output folder."""
    summary_path = out_dir / "summary.json"
    if not summary_path.is_file():
        raise ReportError(f"no summary.json in {out_dir}")
    summary = orjson.loads(summary_path.read_bytes())
    sections = [_overview(summary), *_campaigns(summary), *_churn(summary)]
    sections += _segments(out_dir / "segment-changes.jsonl")
    title = f"Pulse report — {summary.get('log', out_dir.name)}"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{''.join(sections)}"
        "<footer>Made by pulse report html from the replay's own files; opens offline, "
        "runs no script.</footer></body></html>"
    )


def _overview(summary: dict[str, Any]) -> str:
    rows = [
        ("records", f"{summary.get('records', 0):,}"),
        ("accepted", f"{summary.get('accepted', 0):,}"),
        ("rejected", f"{sum(summary.get('rejected_by_reason', {}).values()):,}"),
        ("users", f"{summary.get('users', 0):,}"),
        ("Pulse", str(summary.get("pulse_version", ""))),
    ]
    cells = "".join(f"<tr><th>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return _section("Overview", f"<table>{cells}</table>")


def _campaigns(summary: dict[str, Any]) -> list[str]:
    stats = (summary.get("campaigns") or {}).get("final_stats") or []
    if not stats:
        return [_section("Campaigns", _note("no campaign configured or no campaign figures"))]
    table = campaign_table(stats)
    rows = [
        (
            f"{row['campaign']} / {row['variant']}",
            row["uplift"],
            row["uplift_low"],
            row["uplift_high"],
        )
        for row in table
        if row["uplift"] is not None
    ]
    uplift = charts.intervals(rows, "Uplift in conversion rate, treated vs holdout (95 % interval)")
    outcomes, quiet = [], []
    for campaign, merged in sorted(merge(stats).items()):
        ranked = sorted(merged["outcomes"].items(), key=lambda kv: -kv[1])
        if not ranked:
            quiet.append(campaign)
            continue
        outcomes.append(charts.bars([(k, float(v)) for k, v in ranked], f"{campaign}: outcomes"))
    if quiet:
        outcomes.append(_note(f"no candidate yet: {', '.join(quiet)}"))
    return [
        _section(
            "Campaigns: did they work?",
            uplift,
            _note(
                "Intent to treat: every user assigned to the treated group counts, sent or "
                "not (arbitration, caps, expiry). Green: the interval is above zero."
            ),
        ),
        _section("Campaign outcomes by reason", *outcomes),
    ]


def _churn(summary: dict[str, Any]) -> list[str]:
    churn = (summary.get("models") or {}).get("churn") or {}
    if not churn.get("final_labels"):
        return [
            _section(
                "Churn risk",
                _note(
                    "no final label yet: the log is shorter than the horizon "
                    f"({churn.get('horizon_days', '?')} days) after the first purchases"
                ),
            )
        ]
    points = [(r["mean_score"], r["churn_rate"], r["points"]) for r in churn["calibration"]]
    months = churn.get("calibration_by_month", [])
    index = {row["month"]: n for n, row in enumerate(months)}
    every = -(-len(months) // 7)  # at most 7 month labels: they must not overlap
    labels = [(float(n), row["month"]) for n, row in enumerate(months)][::every]
    over_time = charts.lines(
        {
            "ROC AUC": [
                (float(index[r["month"]]), r["roc_auc"])
                for r in months
                if r.get("roc_auc") is not None
            ],
            "mean score": [(float(index[r["month"]]), r["mean_score"]) for r in months],
            "churn rate": [(float(index[r["month"]]), r["churn_rate"]) for r in months],
        },
        "Churn: AUC, mean score and observed churn rate by month of prediction",
        labels,
        "{:.2f}",
        (0.0, 1.0),
    )
    figures = (
        f"{churn['final_labels']:,} final labels; ROC AUC {churn.get('roc_auc')}, log loss "
        f"{churn.get('log_loss')}; horizon {churn.get('horizon_days')} days"
    )
    return [
        _section(
            "Churn risk",
            _note(figures),
            charts.calibration(points, "Calibration: observed churn rate by score bin"),
            over_time,
        )
    ]


def _segments(path: Path) -> list[str]:
    series, flows, first = populations_over_time(_changes(path))
    if not any(series.values()):
        return [_section("Segments over event time", _note("no segment changes"))]
    days = max((p[0] for by in series.values() for pts in by.values() for p in pts), default=0.0)
    step = max(1.0, days / 6)
    labels = [(d, format_ts(int((first + d) * MS_PER_DAY))[:10]) for d in _steps(days, step)]
    drawn = [
        charts.lines(by_segment, f"{dimension}: users per segment, end of each day", labels)
        for dimension, by_segment in series.items()
        if by_segment
    ]
    ranked = [(f"{old} → {new}", float(n)) for (old, new), n in flows.most_common(12)]
    return [
        _section("Segments over event time", *drawn),
        _section("Lifecycle flows", charts.bars(ranked, "lifecycle moves, most frequent first")),
    ]


def _steps(end: float, step: float) -> list[float]:
    found, at = [], 0.0
    while at <= end:
        found.append(at)
        at += step
    return found


STYLE = (
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:780px}"
    "h1{font-size:20px}h2{font-size:16px;margin-top:28px}"
    "table{border-collapse:collapse}th,td{padding:2px 10px;text-align:left}"
    "th{color:#555;font-weight:normal}.note{color:#555;font-size:13px}"
    "svg{display:block;margin:8px 0}footer{margin-top:32px;color:#888;font-size:12px}"
)
