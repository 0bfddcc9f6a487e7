"""Churn risk: an online logistic regression on standardised features (River).

Speaks River's vocabulary: `learn_one(x, y)` with y = True for "churned within the
horizon", `predict_proba_one(x)` → P(churn). Features are a flat dict of numbers; a
missing feature counts as 0 and an unseen one is learned from then on. An ADWIN detector
watches the error stream (|y − p| before each update) and counts drift detections.

>>> model = ChurnModel()
>>> model.predict_proba_one({"orders": 3.0})  # before any label: the prior
0.5
>>> for _ in range(200):
...     model.learn_one({"days_since_last": 80.0, "orders": 1.0}, True)
...     model.learn_one({"days_since_last": 3.0, "orders": 9.0}, False)
>>> model.predict_proba_one({"days_since_last": 85.0, "orders": 1.0}) > 0.7
True
>>> model.predict_proba_one({"days_since_last": 2.0, "orders": 9.0}) < 0.3
True
>>> top = max(model.contributions({"days_since_last": 85.0, "orders": 1.0}).items(), key=lambda kv: kv[1])
>>> top[0] in ("days_since_last", "orders")
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from river import drift, linear_model, optim, preprocessing

from models.btyd import BgNbd

Features = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class ChurnConfig:
    # A small step for the weights and a larger one for the intercept: the base rate is
    # learned fast (calibration, i.e. log loss), the weights slowly (ranking, i.e. AUC).
    learning_rate: float = 0.005
    intercept_learning_rate: float = 0.2
    l2: float = 0.01
    prior: float = 0.5  # P(churn) before the first label
    baseline_refit_days: int = 30  # event-time days between BG/NBD refits

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ChurnModel:
    kind = "churn"

    def __init__(self, config: ChurnConfig | None = None) -> None:
        self.config = config or ChurnConfig()
        self.labels = 0
        self.positives = 0  # churned labels: they arrive H days late, so they lag
        self.drifts = 0
        self._scaler: Any = preprocessing.StandardScaler()
        self._regression = linear_model.LogisticRegression(
            optimizer=optim.SGD(self.config.learning_rate),
            l2=self.config.l2,
            intercept_lr=self.config.intercept_learning_rate,
        )
        self._model: Any = self._scaler | self._regression
        self._drift: Any = drift.ADWIN()  # type: ignore[no-untyped-call]
        self._baseline = BgNbd()
        self.baseline_due = 0  # event time (ms) of the next BG/NBD refit; 0: at the first chance

    # BG/NBD, fitted on every buyer's history (no labels needed), is both the prior while
    # churn labels are few and an input of the regression: the model learns how far to
    # trust it and what behaviour (views, carts, searches, discounts) adds.
    def fit_baseline(
        self, repeats: list[int], recency: list[float], age: list[float], now: int
    ) -> None:
        """Refit BG/NBD on buyers' (repeat purchases, days to last, days since first)."""
        if len(repeats) >= 20:
            self._baseline.fit(repeats, recency, age)
        self.baseline_due = now + self.config.baseline_refit_days * 86_400_000

    def baseline(
        self, repeats: int, recency: float, age: float, horizon_days: float
    ) -> float | None:
        """BG/NBD P(no purchase in the horizon), or None before the first fit."""
        if not self._baseline.fitted:
            return None
        return self._baseline.p_no_purchase_one(repeats, recency, age, horizon_days)

    def learn_one(self, x: Features, y: bool) -> None:
        z = compress(x)
        if self.labels:
            error = abs(float(y) - float(self._model.predict_proba_one(z).get(True, 0.0)))
            self._drift.update(error)
            if self._drift.drift_detected:
                self.drifts += 1
        self._model.learn_one(z, bool(y))
        self.labels += 1
        self.positives += bool(y)

    def predict_proba_one(self, x: Features) -> float:
        if not self.labels:
            return self.config.prior
        proba = self._model.predict_proba_one(compress(x))
        return float(proba.get(True, 0.0))

    def contributions(self, x: Features) -> dict[str, float]:
        """Each feature's term in the log-odds: weight × standardised value."""
        if not self.labels:
            return {}
        scaled = self._scaler.transform_one(compress(x))
        weights = self._regression.weights
        return {name: float(weights.get(name, 0.0)) * value for name, value in scaled.items()}


def compress(x: Features) -> dict[str, float]:
    """Signed log1p of every value, in a new dict (River may keep the one it is given).

    Counts and amounts are heavy-tailed: one shopper with 400 views would otherwise
    dominate the scaler and the gradient steps.

    >>> compress({"views": 0.0, "spent": 99.0})["spent"] == math.log(100.0)
    True
    """
    return {name: math.copysign(math.log1p(abs(value)), value) for name, value in x.items()}
