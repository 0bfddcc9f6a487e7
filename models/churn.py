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
>>> model.predict_proba_one({"days_since_last": 85.0, "orders": 1.0}) > 0.8
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from river import linear_model, optim, preprocessing

Features = dict[str, float]


@dataclass(frozen=True, slots=True)
class ChurnConfig:
    learning_rate: float = 0.05
    l2: float = 0.001
    prior: float = 0.5  # P(churn) before the first label

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ChurnModel:
    kind = "churn"

    def __init__(self, config: ChurnConfig | None = None) -> None:
        self.config = config or ChurnConfig()
        self.labels = 0
        self._model: Any = preprocessing.StandardScaler() | linear_model.LogisticRegression(
            optimizer=optim.SGD(self.config.learning_rate), l2=self.config.l2
        )

    def learn_one(self, x: Features, y: bool) -> None:
        # River may keep references to the dict it is given: pass a copy.
        self._model.learn_one(dict(x), bool(y))
        self.labels += 1

    def predict_proba_one(self, x: Features) -> float:
        if not self.labels:
            return self.config.prior
        proba = self._model.predict_proba_one(dict(x))
        return float(proba.get(True, 0.0))
