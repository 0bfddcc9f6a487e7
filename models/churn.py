"""Churn risk: BG/NBD, an online regression (River) and their combination by measured loss.

`ChurnModel.score(x, base)` gives the combined P(churn) and each input's forecast;
`ChurnModel.learn(x, inputs, y)` takes a final label (see `ChurnModel` and
models/combine.py). Before any label, the score is BG/NBD's own:

>>> model = ChurnModel()
>>> model.score({"orders": 3.0}, 0.42)[0]
0.42

The regression alone speaks River's vocabulary: `learn_one(x, y)` with y = True for "churned
within the horizon", `predict_proba_one(x)` → P(churn). Features are a flat dict of numbers;
a missing feature counts as 0 and an unseen one is learned from then on. A Page-Hinkley
detector watches the error stream (|y − p| before each update) and counts drifts. The whole
model is numbers: `to_state()` and `restore()` checkpoint it as JSON.

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
>>> copy = ChurnModel()
>>> copy.restore(model.to_state())
>>> copy.predict_proba_one({"orders": 2.0}) == model.predict_proba_one({"orders": 2.0})
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from models.btyd import BgNbd
from models.checkpoint import CheckpointError, Restorable, count, field
from models.combine import BinnedPlatt, ExpertMixture, OnlineLogit, clip, logit
from models.drift import PageHinkley
from models.regression import StandardisedLogit

Features = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class ChurnConfig:
    # A small step for the weights and a larger one for the intercept: the base rate is
    # learned fast (calibration, i.e. log loss), the weights slowly (ranking, i.e. AUC).
    learning_rate: float = 0.005
    intercept_learning_rate: float = 0.2
    l2: float = 0.01
    prior: float = 0.5  # the regression's P(churn) before its first label
    baseline_refit_days: int = 30  # event-time days between BG/NBD refits
    mixture_half_life: float = 2000.0  # labels after which an input's past loss counts half

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


INPUTS: Final = ("bg_nbd", "bg_nbd_calibrated", "regression", "stacked")
# The mixture's weights before any label. BG/NBD needs no labels; the other three start
# knowing nothing and learn from labels that arrive a horizon late, so for months their
# forecasts rest on a few hundred labels while the mixture has barely begun to measure
# them. With a uniform prior the score was a plain average of BG/NBD and three untrained
# learners for that long. With labels that came at once, this prior would bound the
# score's total log loss above BG/NBD's by ln(1/0.7) ≈ 0.36 (ln 4 ≈ 1.39 when uniform);
# the others earn weight by measured loss.
MIXTURE_PRIOR: Final = (0.7, 0.1, 0.1, 0.1)
# And a learned input joins the mix only once 100 of its own forecasts (those that differ
# from BG/NBD's) have final labels: enough to tell a log-loss difference of ~0.1 from
# noise, and until then nothing measured says it should move the score.
MIXTURE_TESTED: Final = 100


class ChurnModel:
    """BG/NBD, a regression on behaviour, and their combination by measured log loss.

    Four forecasts of P(churn) are made at every prediction point (`INPUTS`): BG/NBD as
    fitted; BG/NBD recalibrated online (Platt scaling); the River regression, whose inputs
    include BG/NBD's log-odds; and a stacker on the logits of BG/NBD and the regression.
    The score is their exponentially weighted mixture (models/combine.py) with a prior on
    BG/NBD (`MIXTURE_PRIOR`); a learned input joins only once measured (`MIXTURE_TESTED`).
    Before any label every input equals BG/NBD, and so does the score.
    """

    kind = "churn"

    def __init__(self, config: ChurnConfig | None = None) -> None:
        self.config = config or ChurnConfig()
        self.labels = 0
        self.drifts = 0
        self.changes = 0  # counts every update: a checkpoint is due when it moves
        self._regression = StandardisedLogit(
            self.config.learning_rate, self.config.intercept_learning_rate, self.config.l2
        )
        self._drift = PageHinkley()
        self._baseline = BgNbd()
        self._calibrator = BinnedPlatt()
        self._stacker = OnlineLogit([1.0, 0.0], step=0.1)
        self._mixture = ExpertMixture(
            INPUTS, self.config.mixture_half_life, MIXTURE_PRIOR, MIXTURE_TESTED
        )
        self.baseline_due = 0  # event time (ms) of the next BG/NBD refit; 0: at the first chance
        self.input_names: tuple[str, ...] = INPUTS

    # BG/NBD, fitted on every buyer's history (no labels needed), is the first input and an
    # input of the regression: the model learns how far to trust it and what behaviour
    # (views, carts, searches, discounts) adds.
    def fit_baseline(
        self, repeats: list[int], recency: list[float], age: list[float], now: int
    ) -> None:
        """Refit BG/NBD on buyers' (repeat purchases, days to last, days since first)."""
        if len(repeats) >= 20:
            self._baseline.fit(repeats, recency, age)
        # Until there are buyers enough for a first fit, try again the next day.
        days = self.config.baseline_refit_days if self._baseline.fitted else 1
        self.baseline_due = now + days * 86_400_000
        self.changes += 1

    def baseline(self, repeats: int, recency: float, age: float, horizon_days: float) -> float:
        """BG/NBD P(no purchase in the horizon); before the first fit, from weak priors."""
        return self._baseline.p_no_purchase_one(repeats, recency, age, horizon_days)

    def score(self, x: Features, base: float) -> tuple[float, list[float]]:
        """The combined P(churn) and each input's forecast (in `INPUTS` order)."""
        z = logit(base)
        regression = self.predict_proba_one(x) if self.labels else base
        inputs = [
            clip(base),
            self._calibrator.predict(z),
            clip(regression),
            self._stacker.predict([z, logit(regression)]),
        ]
        return self._mixture.mix(inputs), inputs

    def learn(self, x: Features, inputs: list[float], y: bool) -> None:
        """A final label for a point scored earlier with features `x` and forecasts `inputs`."""
        z = logit(inputs[0])
        self._calibrator.learn(z, y)
        self._stacker.learn([z, logit(inputs[2])], y)
        self._mixture.update(inputs, y)
        self.learn_one(x, y)

    def mixture(self) -> dict[str, tuple[float, int]]:
        """Each input's weight now and the labels that measured a forecast of its own
        (BG/NBD, the reference: every label).

        >>> ChurnModel().mixture()["regression"]  # nothing measured yet: out of the mix
        (0.0, 0)
        """
        weights, measured = self._mixture.weights(), list(self._mixture.tested)
        measured[0] = self._mixture.labels  # BG/NBD, the reference: every label measures it
        return {name: (weights[i], measured[i]) for i, name in enumerate(INPUTS)}

    def learn_one(self, x: Features, y: bool) -> None:
        """The regression alone learns one label (River's verb)."""
        before = self._regression.learn(x, bool(y))
        if self.labels and self._drift.update(abs(float(y) - before)):
            self.drifts += 1
        self.labels += 1
        self.changes += 1

    def predict_proba_one(self, x: Features) -> float:
        """The regression alone: P(churn) from the features (the prior before any label)."""
        return self._regression.predict(x) if self.labels else self.config.prior

    def contributions(self, x: Features) -> dict[str, float]:
        """Each feature's term in the regression's log-odds: weight × standardised value."""
        return self._regression.contributions(x) if self.labels else {}

    def to_state(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "drifts": self.drifts,
            "baseline_due": self.baseline_due,
            "regression": self._regression.to_state(),
            "drift": self._drift.to_state(),
            "baseline": self._baseline.to_state(),
            "calibrator": self._calibrator.to_state(),
            "stacker": self._stacker.to_state(),
            "mixture": self._mixture.to_state(),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take a checkpoint's numbers; CheckpointError names the first field that is wrong."""
        self.labels = count(field(state, "labels"), "labels")
        self.drifts = count(field(state, "drifts"), "drifts")
        self.baseline_due = count(field(state, "baseline_due"), "baseline_due")
        parts: dict[str, Restorable] = {
            "regression": self._regression,
            "drift": self._drift,
            "baseline": self._baseline,
            "calibrator": self._calibrator,
            "stacker": self._stacker,
            "mixture": self._mixture,
        }
        for name, part in parts.items():
            value = field(state, name)
            if not isinstance(value, dict):
                raise CheckpointError(f"checkpoint field {name} is not an object")
            part.restore(value)
