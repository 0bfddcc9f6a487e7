"""`pulse evaluate churn`: how well churn risk is predicted, from a log alone.

Every purchase is a prediction point (purchases of one user in the same millisecond are
one basket, one point): after the user's features are updated, each scorer gives
P(no purchase within H days). The label comes from the log itself: 0 when
the user buys again within H days, 1 when event time (the watermark over all events)
passes t + H without a purchase; points the log ends too early for stay unresolved.
Learning is progressive: a scorer predicts at t and learns the label only when it
resolves, so no score ever uses information from after its prediction point.

Scorers:
* the pipeline's churn score: `models.ChurnModel` over the numeric feature view, blended
  with the prior while labels are few (streams/core/churn.py), one model for all users;
* a count heuristic — the churn rate observed so far among points with the same number of
  orders (Laplace-smoothed), a calibrated baseline that knows only the purchase count;
* BG/NBD (models/btyd.py) alone: the model's own prior, refitted every 30 days of event
  time on every buyer's (repeat purchases, recency, age) as of then; 0.5 before the
  first fit.
Quality: ROC AUC and log loss over resolved points after a warm-up period.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from models.churn import ChurnModel
from streams.core.churn import (
    as_features,
    blended_score,
    feature_vector,
    history,
    logit,
    refit_baseline,
)
from streams.core.errors import InvalidEvent
from streams.core.events import PurchaseEvent, decode_event
from streams.core.models_config import ChurnSettings
from streams.core.state import UserState
from streams.core.timefmt import MS_PER_DAY, format_ts

SCORERS = ("model", "count_heuristic", "bg_nbd")


class CountHeuristic:
    """P(churn) = churn rate so far among prediction points with the same order count."""

    def __init__(self) -> None:
        self.churned: dict[int, int] = defaultdict(int)
        self.seen: dict[int, int] = defaultdict(int)

    def score(self, orders: int) -> float:
        key = min(orders, 20)
        return (self.churned[key] + 1) / (self.seen[key] + 2)

    def learn(self, orders: int, churned: bool) -> None:
        key = min(orders, 20)
        self.seen[key] += 1
        self.churned[key] += churned


@dataclass(slots=True)
class Point:
    event_id: str
    user_id: str
    ts: int
    x: dict[str, float]
    orders: int
    model: float
    heuristic: float
    bg_nbd: float


@dataclass
class Result:
    horizon_days: float
    points: int = 0
    # (label, model, count heuristic, BG/NBD) per resolved point after the warm-up
    resolved: list[tuple[bool, float, float, float]] = field(default_factory=list)
    unresolved: int = 0
    invalid: int = 0
    scores: list[Point] = field(default_factory=list)


def evaluate(
    lines: Iterable[bytes],
    horizon_days: float,
    warmup_days: float,
    keep_scores: bool = False,
    settings: ChurnSettings | None = None,
) -> Result:
    horizon = int(horizon_days * MS_PER_DAY)
    result = Result(horizon_days)
    settings = settings or ChurnSettings(horizon_days=max(1, round(horizon_days)))
    model, heuristic = ChurnModel(), CountHeuristic()
    users: dict[str, UserState] = {}
    pending: dict[str, list[Point]] = defaultdict(list)
    deadlines: list[tuple[int, int, str]] = []  # (t + H, sequence, user)
    start: int | None = None
    watermark = 0

    def resolve(point: Point, churned: bool) -> None:
        if start is not None and point.ts >= start + warmup_days * MS_PER_DAY:
            result.resolved.append((churned, point.model, point.heuristic, point.bg_nbd))
        model.learn_one(point.x, churned)
        heuristic.learn(point.orders, churned)

    for sequence, raw in enumerate(lines):
        try:
            event = decode_event(raw)
        except InvalidEvent:
            result.invalid += 1
            continue
        start = event.ts if start is None else min(start, event.ts)
        watermark = max(watermark, event.ts)
        # Event time passed t + H for these points: no purchase in time, churned.
        while deadlines and deadlines[0][0] < watermark:
            _, _, user = heapq.heappop(deadlines)
            queue = pending[user]
            if queue and queue[0].ts + horizon < watermark:
                resolve(queue.pop(0), True)
        state = users.setdefault(event.user_id, UserState(event.user_id))
        state.features.update(event)
        if not isinstance(event, PurchaseEvent):
            continue
        if watermark >= model.baseline_due:
            refit_baseline(model, users.values(), watermark)
        queue = pending[event.user_id]
        if queue and queue[-1].ts == event.ts:
            continue  # the same basket split into several purchase events: one point
        # A purchase within H of earlier points: those users did not churn.
        while queue:
            resolve(queue.pop(0), False)
        values: list[float | None] = list(feature_vector(state, event.ts))
        base = model.baseline(*history(state, event.ts), horizon_days)
        values.append(None if base is None else logit(base))
        x = as_features(values)
        orders = state.features.orders
        point = Point(
            event.event_id,
            event.user_id,
            event.ts,
            x,
            orders,
            blended_score(model, settings, state, x, base),
            heuristic.score(orders),
            0.5 if base is None else base,
        )
        queue.append(point)
        heapq.heappush(deadlines, (event.ts + horizon, sequence, event.user_id))
        result.points += 1
        if keep_scores:
            result.scores.append(point)
    result.unresolved = sum(len(queue) for queue in pending.values())
    return result


def roc_auc(labels: list[bool], scores: list[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half).

    >>> roc_auc([True, False, True, False], [0.9, 0.1, 0.8, 0.3])
    1.0
    """
    ranked = sorted(zip(scores, labels, strict=True))
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return math.nan
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average_rank = (i + j + 1) / 2  # ranks are 1-based
        rank_sum += average_rank * sum(1 for k in range(i, j) if ranked[k][1])
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def log_loss(labels: list[bool], scores: list[float]) -> float:
    eps = 1e-6
    total = 0.0
    for label, score in zip(labels, scores, strict=True):
        p = min(max(score, eps), 1 - eps)
        total -= math.log(p if label else 1 - p)
    return total / len(labels) if labels else math.nan


def summary(result: Result) -> dict[str, Any]:
    labels = [row[0] for row in result.resolved]
    figures: dict[str, Any] = {
        "horizon_days": result.horizon_days,
        "prediction_points": result.points,
        "scored_after_warmup": len(labels),
        "unresolved_at_end": result.unresolved,
        "invalid_lines": result.invalid,
        "churn_rate": sum(labels) / len(labels) if labels else math.nan,
    }
    for index, name in enumerate(SCORERS, start=1):
        scores = [row[index] for row in result.resolved]
        figures[name] = {"roc_auc": roc_auc(labels, scores), "log_loss": log_loss(labels, scores)}
    return figures


def score_lines(result: Result) -> Iterator[dict[str, Any]]:
    for point in result.scores:
        yield {
            "event_id": point.event_id,
            "user_id": point.user_id,
            "ts": format_ts(point.ts),
            "score": round(point.model, 6),
        }
