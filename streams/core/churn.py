"""Churn risk in event time: prediction points, final labels, a measured combination, bands.

A prediction point is every qualifying event (default: a purchase) and every *rescoring*:
when event time carries a quiet user past another step since their last qualifying event
(steps of their usual gap, between H/12 and H/3), they are scored again from the
watermark, with no event of their own — so a customer who simply stops buying climbs to a
higher band while a win-back can still work, not only after H days.

The score is P(no qualifying event in (t, t + H]). Its label is final only at t + H, and
is learned only then, for both outcomes (a point is never resolved early when the user
comes back: "returned" labels would arrive sooner than "churned" ones and bias every model
and every figure towards "returned"). Until then the point waits in the user's state
with the features and forecasts of its moment; at most `MAX_PENDING` wait per user, kept
at least H / MAX_PENDING apart (points in between are scored but not learned from — a
choice made at prediction time, independent of the outcome, so the labels stay unbiased).

The score combines four forecasts by their measured log loss (models/churn.py): BG/NBD
("Buy Till You Die", refitted on the partition's buyers every 30 days of event time),
BG/NBD recalibrated online, a River regression on the behaviour features plus BG/NBD's
log-odds, and a stacker of the two. Quality (ROC AUC, log loss, calibration, per input
and month by month) is counted over final labels only.

Bands (low / medium / high) move up when the score reaches a threshold and down only when
it falls `hysteresis` below it; a `churn_risk` output is emitted when the band changes.
"""

from __future__ import annotations

import heapq
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from streams.core.events import AnyEvent
from streams.core.feature_view import VARIABLES
from streams.core.model_api import ChurnModelLike
from streams.core.models_config import ChurnSettings
from streams.core.quality import ScoreQuality
from streams.core.state import UserState
from streams.core.timefmt import MS_PER_DAY, format_ts

FEATURES: Final = tuple(name for name, var in VARIABLES.items() if var.kind in (int, float, bool))
BASELINE: Final = "bg_nbd_logit"  # model input: log-odds of the BG/NBD prior
LOW, MEDIUM, HIGH = "low", "medium", "high"
_RANK: Final = {"": -1, LOW: 0, MEDIUM: 1, HIGH: 2}
SCORE_BUCKETS: Final = 10
MAX_PENDING: Final = 4  # prediction points awaiting their label per user
# A pending point: [ts, cause, returned (0/1), score, input forecasts, feature values].
TS, CAUSE, RETURNED, SCORE, INPUTS, VALUES = range(6)
ONE_OVER_ORDERS: Final = "1/(1+orders)"
MIN_EFFECT: Final = 0.05  # log-odds: about one point of probability near 0.5
NOT_REASONS: Final = frozenset(
    {"consent_email", "consent_sms", "consent_push"}
)  # the plainest baseline, reported beside the score
_ORDERS: Final = FEATURES.index("orders")


_COMPUTE: Final = tuple(VARIABLES[name].compute for name in FEATURES)


def feature_vector(state: UserState, now: int) -> list[float]:
    """The numeric feature view of a user at `now`, in `FEATURES` order."""
    # (No typing.cast here: it is a call at run time, 70 of them per scoring.)
    return [float(compute(state, now)) for compute in _COMPUTE]  # type: ignore[arg-type]


def as_features(values: list[float | None]) -> dict[str, float]:
    """Model input from saved values: `FEATURES` order, then the baseline (None: absent)."""
    x = {
        name: float(value)
        for name, value in zip(FEATURES, values, strict=False)
        if value is not None
    }
    if len(values) > len(FEATURES) and values[len(FEATURES)] is not None:
        x[BASELINE] = float(values[len(FEATURES)])  # type: ignore[arg-type]
    return x


def history(state: UserState, now: int) -> tuple[int, float, float]:
    """BG/NBD's view of a buyer: repeat purchases, days first→last purchase, days since first."""
    f = state.features
    if not f.orders:
        return 0, 0.0, 0.0
    return (
        max(f.orders - 1, 0),
        (f.last_purchase - f.first_purchase) / MS_PER_DAY,
        max(now - f.first_purchase, 0) / MS_PER_DAY,
    )


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


# A refit runs on the event loop: beyond this many buyers it fits on a fixed sample of them
# (the same users each time: a hash of the id), so its pause stays ~0.1 s however large
# the partition grows. Four parameters are estimated as well from 20,000 buyers as from
# millions.
MAX_FIT_BUYERS: Final = 20_000


def _sample_key(user_id: str) -> int:
    return zlib.crc32(user_id.encode("utf-8"))


def fit_sample(buyers: list[tuple[str, Any]], limit: int = MAX_FIT_BUYERS) -> list[tuple[str, Any]]:
    """At most `limit` buyers, always the same ones for the same ids, in user-id order.

    >>> rows = [(f"u{n}", n) for n in range(10)]
    >>> [uid for uid, _ in fit_sample(rows, 3)] == [uid for uid, _ in fit_sample(rows[::-1], 3)]
    True
    >>> len(fit_sample(rows, 3)), fit_sample(rows, 20) == sorted(rows)
    (3, True)
    """
    if len(buyers) > limit:
        buyers = heapq.nsmallest(limit, buyers, key=lambda row: (_sample_key(row[0]), row[0]))
    return sorted(buyers)


def refit_baseline(model: ChurnModelLike, states: Iterable[UserState], now: int) -> None:
    """Refit the BG/NBD prior on the buyers (a fixed sample beyond `MAX_FIT_BUYERS`), in
    user-id order (same sums, same fit)."""
    buyers = fit_sample(
        [(state.user_id, history(state, now)) for state in states if state.features.orders]
    )
    model.fit_baseline(
        [row[0] for _, row in buyers],
        [row[1] for _, row in buyers],
        [row[2] for _, row in buyers],
        now,
    )


@dataclass
class ChurnStats:
    """Counts and quality over final labels, for the summary and metrics (never per user)."""

    scored: int = 0
    rescored: int = 0
    resolved: int = 0
    churned: int = 0
    band_changes: int = 0
    drifts: int = 0
    quality: ScoreQuality = field(default_factory=ScoreQuality)
    inputs: dict[str, ScoreQuality] = field(default_factory=dict)
    # "YYYY-MM" of the prediction point -> [final labels, score sum, churned], and quality
    months: dict[str, list[float]] = field(default_factory=dict)
    month_quality: dict[str, ScoreQuality] = field(default_factory=dict)
    # Plain baselines beside the inputs, from the point's own features.
    baselines: dict[str, ScoreQuality] = field(default_factory=dict)
    score_buckets: list[int] = field(default_factory=lambda: [0] * SCORE_BUCKETS)
    score_sum: float = 0.0
    count_from: int = 0  # labels of points before this event time are learned, not counted

    def add_label(self, point: list[Any], churned: bool, names: tuple[str, ...]) -> None:
        if point[TS] < self.count_from:
            return
        score = float(point[SCORE])
        orders = point[VALUES][_ORDERS]
        _quality(self.baselines, ONE_OVER_ORDERS).add(1.0 / (1.0 + float(orders or 0.0)), churned)
        self.resolved += 1
        self.churned += churned
        self.quality.add(score, churned)
        for name, forecast in zip(names, point[INPUTS], strict=False):
            _quality(self.inputs, name).add(float(forecast), churned)
        month = _month(int(point[TS]))
        _quality(self.month_quality, month).add(score, churned)
        row = self.months.setdefault(month, [0, 0.0, 0])
        row[0] += 1
        row[1] += score
        row[2] += churned

    def summary(self, horizon_days: int) -> dict[str, Any]:
        def fig(value: float) -> float | None:
            return None if math.isnan(value) else round(value, 4)

        def quality(q: ScoreQuality) -> dict[str, float | None]:
            return {"roc_auc": fig(q.auc()), "log_loss": fig(q.log_loss())}

        return {
            "horizon_days": horizon_days,
            "prediction_points": self.scored,
            "rescored_points": self.rescored,
            "final_labels": self.resolved,
            "churn_rate": fig(self.churned / self.resolved if self.resolved else math.nan),
            **quality(self.quality),
            "inputs": {name: quality(q) for name, q in sorted(self.inputs.items())},
            "baselines": {name: quality(q) for name, q in sorted(self.baselines.items())},
            "calibration": self.quality.calibration_table(),
            "calibration_by_month": [
                {
                    "month": month,
                    "points": int(n),
                    "mean_score": round(total / n, 4),
                    "churn_rate": round(hits / n, 4),
                    "roc_auc": fig(self.month_quality[month].auc()),
                }
                for month, (n, total, hits) in sorted(self.months.items())
            ],
            "drift_detections": self.drifts,
            "band_changes": self.band_changes,
        }


def _quality(table: dict[str, ScoreQuality], name: str) -> ScoreQuality:
    """`table[name]`, created on first use (not `setdefault`: its default would be built,
    2,000 bins, on every call)."""
    quality = table.get(name)
    if quality is None:
        quality = table[name] = ScoreQuality()
    return quality


def _month(ts: int, cache: dict[int, str] = {}) -> str:  # noqa: B006 - a deliberate cache
    """The "YYYY-MM" of an event time (formatted once per day seen)."""
    day = ts // MS_PER_DAY
    month = cache.get(day)
    if month is None:
        if len(cache) > 100_000:
            cache.clear()
        month = cache[day] = format_ts(day * MS_PER_DAY)[:7]
    return month


@dataclass(frozen=True, slots=True)
class Scored:
    """A prediction point's outcome, for the `churn_risk` output and --all-scores.

    `event_id` is the qualifying event scored, or None for a rescoring from the watermark;
    `cause` names the point either way (the output id derives from it).
    """

    user_id: str
    event_id: str | None
    cause: str
    ts: int
    score: float
    band: str
    previous_band: str
    band_changed: bool
    top_features: list[dict[str, Any]]
    inputs: tuple[float, ...] = ()  # each input's forecast, in the model's `input_names` order


class ChurnTracker:
    """Churn scoring and label bookkeeping for one partition's users."""

    def __init__(self, settings: ChurnSettings, model: ChurnModelLike, stats: ChurnStats) -> None:
        self.settings = settings
        self.model = model
        self.stats = stats
        self.horizon = settings.horizon_days * MS_PER_DAY
        self.spacing = self.horizon // MAX_PENDING
        self.qualifying = frozenset(settings.qualifying)

    def due(self, state: UserState) -> int | None:
        """The earliest of: the oldest pending label becoming final, the next rescoring."""
        pending = state.churn_pending
        label = int(pending[0][TS]) + self.horizon + 1 if pending else None
        rescore = self.next_rescore(state)
        if label is None or (rescore is not None and rescore < label):
            return rescore
        return label

    def next_rescore(self, state: UserState, after: int | None = None) -> int | None:
        """When a quiet user is next scored from the watermark (None: not any more).

        Steps of the user's usual gap between orders (H/3 before a second order), kept
        between H/12 and H/3, from their last qualifying event until H has passed; the
        first step after `after` (default: the user's last scoring).
        """
        anchor = state.churn_anchor
        if not anchor:
            return None
        horizon_days = self.settings.horizon_days
        gap = state.features.ipt_days if state.features.ipt_days > 0 else horizon_days / 3
        step = int(min(max(gap, horizon_days / 12), horizon_days / 3) * MS_PER_DAY)
        after = max(state.churn_scored_at if after is None else after, anchor)
        at = anchor + ((after - anchor) // step + 1) * step
        return at if at < anchor + self.horizon else None

    def maybe_refit(self, now: int, states: Iterable[UserState]) -> None:
        """Refit the prior when event time reaches its due time."""
        if now >= self.model.baseline_due:
            refit_baseline(self.model, states, now)

    def catch_up(self, state: UserState, now: int) -> Scored | None:
        """Event time reached `now`: final labels are learned, a quiet user is rescored."""
        pending = state.churn_pending
        while pending and pending[0][TS] + self.horizon < now:
            self._resolve(state, pending.pop(0))
        rescore = self.next_rescore(state)
        if rescore is None or rescore >= now:
            return None  # (a step at the user's own event: that event is the point)
        # The latest step before `now` (a long quiet spell is one rescoring, not many).
        while (following := self.next_rescore(state, rescore)) is not None and following < now:
            rescore = following
        self.stats.rescored += 1
        return self._score(state, rescore, None, f"rescore@{rescore}")

    def on_event(self, state: UserState, event: AnyEvent, kind: str) -> Scored | None:
        """A prediction point when `kind` qualifies (call after the features are updated)."""
        if kind not in self.qualifying:
            return None
        if event.ts <= state.churn_anchor:
            return None  # the same basket, or a late event: no new prediction point
        for point in state.churn_pending:
            if point[TS] < event.ts:
                point[RETURNED] = 1  # back within H (older points were resolved before)
        state.churn_anchor = event.ts
        if event.ts <= state.churn_scored_at:
            return None  # late behind a rescoring of this user: no new point
        return self._score(state, event.ts, event.event_id, event.event_id)

    def _score(self, state: UserState, now: int, event_id: str | None, cause: str) -> Scored:
        values: list[float | None] = list(feature_vector(state, now))
        base = self.model.baseline(*history(state, now), self.settings.horizon_days)
        values.append(logit(base))
        x = as_features(values)
        combined, forecasts = self.model.score(x, base)
        score = round(combined, 6)
        inputs = [round(p, 6) for p in forecasts]
        state.churn_scored_at = now
        state.churn_score = score
        pending = state.churn_pending
        if not pending or now - pending[-1][TS] >= self.spacing:
            pending.append([now, cause, 0, score, inputs, values])
        self.stats.scored += 1
        self.stats.score_buckets[min(int(score * SCORE_BUCKETS), SCORE_BUCKETS - 1)] += 1
        self.stats.score_sum += score
        previous = state.churn_band
        band = self._band(previous, score)
        changed = band != previous
        if changed:
            state.churn_band = band
            self.stats.band_changes += 1
        return Scored(
            state.user_id,
            event_id,
            cause,
            now,
            score,
            band,
            previous,
            changed,
            self._top_features(x) if changed else [],
            tuple(inputs),
        )

    def _band(self, previous: str, score: float) -> str:
        s = self.settings
        band = HIGH if score >= s.high else MEDIUM if score >= s.medium else LOW
        if _RANK[band] < _RANK[previous]:
            # Going down needs a clear margin below the current band's threshold.
            floor = s.high if previous == HIGH else s.medium
            if score >= floor - s.hysteresis:
                return previous
        return band

    def _resolve(self, state: UserState, point: list[Any]) -> None:
        """t + H has passed: the label is final (churned unless they came back in time)."""
        churned = not point[RETURNED]
        self.stats.add_label(point, churned, self.model.input_names)
        drifts = self.model.drifts
        self.model.learn(as_features(point[VALUES]), list(point[INPUTS]), churned)
        self.stats.drifts += self.model.drifts - drifts

    def _top_features(self, x: dict[str, float]) -> list[dict[str, Any]]:
        k = self.settings.top_features
        if not k or not self.model.labels:
            return []
        effects = self.model.contributions(x)
        # Only what a marketer can read as a reason: no "not yet" sentinels (-1), no consent
        # flags, and no effect too small to move the score (< 0.05 on the log-odds).
        reasons = [
            (name, effect)
            for name, effect in effects.items()
            if effect >= MIN_EFFECT and x[name] >= 0 and name not in NOT_REASONS
        ]
        top = sorted(reasons, key=lambda item: (-item[1], item[0]))[:k]
        return [
            {"feature": name, "value": round(x[name], 4), "effect": round(effect, 4)}
            for name, effect in top
        ]
