"""Churn risk: an online logistic regression on standardised features (River).

Speaks River's vocabulary: `learn_one(x, y)` with y = True for "churned within the
horizon", `predict_proba_one(x)` → P(churn). Features are a flat dict of numbers; a
missing feature counts as 0 and an unseen one is learned from then on.

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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from river import linear_model, optim, preprocessing

Features = dict[str, float]


@dataclass(frozen=True, slots=True)
class ChurnConfig:
    # A small step for the weights and a larger one for the intercept: the base rate is
    # learned fast (calibration, i.e. log loss), the weights slowly (ranking, i.e. AUC).
    learning_rate: float = 0.005
    intercept_learning_rate: float = 0.2
    l2: float = 0.01
    prior: float = 0.5  # P(churn) before the first label

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ChurnModel:
    kind = "churn"

    def __init__(self, config: ChurnConfig | None = None) -> None:
        self.config = config or ChurnConfig()
        self.labels = 0
        self._model: Any = preprocessing.StandardScaler() | linear_model.LogisticRegression(
            optimizer=optim.SGD(self.config.learning_rate),
            l2=self.config.l2,
            intercept_lr=self.config.intercept_learning_rate,
        )

    def learn_one(self, x: Features, y: bool) -> None:
        self._model.learn_one(compress(x), bool(y))
        self.labels += 1

    def predict_proba_one(self, x: Features) -> float:
        if not self.labels:
            return self.config.prior
        proba = self._model.predict_proba_one(compress(x))
        return float(proba.get(True, 0.0))


def compress(x: Features) -> Features:
    """Signed log1p of every value, in a new dict (River may keep the one it is given).

    Counts and amounts are heavy-tailed: one shopper with 400 views would otherwise
    dominate the scaler and the gradient steps.

    >>> compress({"views": 0.0, "spent": 99.0})["spent"] == math.log(100.0)
    True
    """
    return {name: math.copysign(math.log1p(abs(value)), value) for name, value in x.items()}
