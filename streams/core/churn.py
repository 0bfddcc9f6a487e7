"""Churn risk in event time: prediction points, delayed labels, blended scores, risk bands.

Every qualifying event (default: a purchase) is a prediction point: after the user's
features are updated, the score is P(no qualifying event within H days). The features
taken at that moment wait in the user's state (one snapshot: the next qualifying event
resolves every earlier point) until the label is known:

* 0 when the user has a qualifying event again within H days;
* 1 when event time (the watermark, or the user's own next event) passes t + H first.

The model learns from the snapshot, never from features computed later.

The prior, which needs no labels, is BG/NBD ("Buy Till You Die", models/btyd.py), refitted
on the partition's buyers every 30 days of event time; before its first fit, for a user
with two or more orders, exp(-H / mean gap between orders) — the chance of no purchase in
H days for someone who buys at that pace — and `single_purchase_prior` otherwise. The
BG/NBD log-odds is also an input of the model. Churned labels arrive H days late, so
early on the model has seen almost only returning users; the blend therefore counts
churned labels: with n of them, score = w·model + (1 − w)·prior, w = n / (n + warmup).

Bands (low / medium / high) move up when the score reaches a threshold and down only when
it falls `hysteresis` below it; a `churn_risk` output is emitted when the band changes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, cast

from streams.core.events import AnyEvent
from streams.core.feature_view import VARIABLES
from streams.core.model_api import ChurnModelLike
from streams.core.models_config import ChurnSettings
from streams.core.quality import ScoreQuality
from streams.core.state import UserState
from streams.core.timefmt import MS_PER_DAY

FEATURES: Final = tuple(name for name, var in VARIABLES.items() if var.kind in (int, float, bool))
BASELINE: Final = "bg_nbd_logit"  # model input: log-odds of the BG/NBD prior
LOW, MEDIUM, HIGH = "low", "medium", "high"
_RANK: Final = {"": -1, LOW: 0, MEDIUM: 1, HIGH: 2}
SCORE_BUCKETS: Final = 10


def feature_vector(state: UserState, now: int) -> list[float]:
    """The numeric feature view of a user at `now`, in `FEATURES` order."""
    return [float(cast(float, VARIABLES[name].compute(state, now))) for name in FEATURES]


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
    return (
        max(f.orders - 1, 0),
        (f.last_purchase - f.first_purchase) / MS_PER_DAY,
        max(now - f.first_purchase, 0) / MS_PER_DAY,
    )


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def refit_baseline(model: ChurnModelLike, states: Iterable[UserState], now: int) -> None:
    """Refit the BG/NBD prior on every buyer, in user-id order (same sums, same fit)."""
    buyers = sorted(
        (state.user_id, history(state, now)) for state in states if state.features.orders
    )
    model.fit_baseline(
        [row[0] for _, row in buyers],
        [row[1] for _, row in buyers],
        [row[2] for _, row in buyers],
        now,
    )


@dataclass
class ChurnStats:
    """Counts and quality for the summary and metrics (never per user)."""

    scored: int = 0
    resolved: int = 0
    churned: int = 0
    band_changes: int = 0
    drifts: int = 0
    quality: ScoreQuality = field(default_factory=ScoreQuality)
    score_buckets: list[int] = field(default_factory=lambda: [0] * SCORE_BUCKETS)
    score_sum: float = 0.0

    def summary(self, horizon_days: int) -> dict[str, Any]:
        def fig(value: float) -> float | None:
            return None if math.isnan(value) else round(value, 4)

        return {
            "horizon_days": horizon_days,
            "prediction_points": self.scored,
            "resolved_labels": self.resolved,
            "churn_rate": fig(self.churned / self.resolved if self.resolved else math.nan),
            "roc_auc": fig(self.quality.auc()),
            "log_loss": fig(self.quality.log_loss()),
            "calibration": self.quality.calibration_table(),
            "drift_detections": self.drifts,
            "band_changes": self.band_changes,
        }


@dataclass(frozen=True, slots=True)
class Scored:
    """A prediction point's outcome, for the `churn_risk` output and --all-scores."""

    user_id: str
    event_id: str
    ts: int
    score: float
    band: str
    previous_band: str
    band_changed: bool
    top_features: list[dict[str, Any]]


def prior(state: UserState, settings: ChurnSettings) -> float:
    """P(churn) before the model knows anything: from the pace of the user's orders."""
    ipt = state.features.ipt_days
    if state.features.orders >= 2 and ipt > 0:
        return math.exp(-settings.horizon_days / ipt)
    return settings.single_purchase_prior


def blended_score(
    model: ChurnModelLike,
    settings: ChurnSettings,
    state: UserState,
    x: dict[str, float],
    base: float | None = None,
) -> float:
    """w·model + (1 − w)·prior, w = churned labels / (churned labels + warmup), 6 decimals.

    `base` replaces the simple prior when a better one is known (a fitted BG/NBD).
    """
    positives, warmup = model.positives, settings.warmup_churn_labels
    weight = positives / (positives + warmup) if positives + warmup else 1.0
    if base is None:
        base = prior(state, settings)
    if weight <= 0.0:
        return round(base, 6)
    return round(weight * model.predict_proba_one(x) + (1.0 - weight) * base, 6)


class ChurnTracker:
    """Churn scoring and label bookkeeping for one partition's users."""

    def __init__(self, settings: ChurnSettings, model: ChurnModelLike, stats: ChurnStats) -> None:
        self.settings = settings
        self.model = model
        self.stats = stats
        self.horizon = settings.horizon_days * MS_PER_DAY
        self.qualifying = frozenset(settings.qualifying)

    def due(self, state: UserState) -> int | None:
        """When the pending snapshot resolves as churned if nothing happens first."""
        return state.churn_pending[0] + self.horizon + 1 if state.churn_pending else None

    def maybe_refit(self, now: int, states: Iterable[UserState]) -> None:
        """Refit the prior when event time reaches its due time."""
        if now >= self.model.baseline_due:
            refit_baseline(self.model, states, now)

    def catch_up(self, state: UserState, now: int) -> None:
        """Event time reached `now`: a snapshot older than H resolves as churned."""
        pending = state.churn_pending
        if pending and pending[0] + self.horizon < now:
            self._resolve(state, True)

    def on_event(self, state: UserState, event: AnyEvent, kind: str) -> Scored | None:
        """A prediction point when `kind` qualifies (call after the features are updated)."""
        if kind not in self.qualifying:
            return None
        pending = state.churn_pending
        if pending:
            if event.ts <= pending[0]:
                return None  # the same basket, or a late event: no new prediction point
            self._resolve(state, False)  # active again within H (catch_up ran first)
        values: list[float | None] = list(feature_vector(state, event.ts))
        base = self.model.baseline(*history(state, event.ts), self.settings.horizon_days)
        values.append(None if base is None else logit(base))
        x = as_features(values)
        score = blended_score(self.model, self.settings, state, x, base)
        state.churn_pending = [event.ts, event.event_id, score, values]
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
            event.event_id,
            event.ts,
            score,
            band,
            previous,
            changed,
            self._top_features(x) if changed else [],
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

    def _resolve(self, state: UserState, churned: bool) -> None:
        _, _, score, values = state.churn_pending
        state.churn_pending = []
        self.stats.resolved += 1
        self.stats.churned += churned
        self.stats.quality.add(float(score), churned)
        drifts = self.model.drifts
        self.model.learn_one(as_features(values), churned)
        self.stats.drifts += self.model.drifts - drifts

    def _top_features(self, x: dict[str, float]) -> list[dict[str, Any]]:
        k = self.settings.top_features
        if not k or not self.model.labels:
            return []
        effects = self.model.contributions(x)
        top = sorted(effects.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [
            {"feature": name, "value": round(x[name], 4), "effect": round(effect, 4)}
            for name, effect in top
            if effect > 0
        ]
