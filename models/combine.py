"""Combining probability forecasts by what each has *measured*, not by a count of labels.

Three small online learners, pure Python, deterministic, their state plain numbers
(`to_state` / `from_state`, checkpointed as JSON):

* :class:`OnlineLogit` — logistic regression on a few fixed inputs (logits of other
  forecasts) with AdaGrad steps. With one input it is Platt scaling (calibration); with
  several it is a stacker. It starts from given weights, so before any label it returns
  exactly the input it starts as (e.g. BG/NBD), never a guess.
* :class:`BinnedPlatt` — Platt scaling fitted by Newton's method on all labels so far,
  kept as counts in bins of the input's logit (constant memory) and refitted every few
  labels. Unlike a stochastic step it settles as soon as there is evidence and then holds
  still, so it recalibrates without reshuffling the ranking of scores made at different
  times (which is what ROC AUC over a log measures).
* :class:`ExpertMixture` — the exponentially weighted average of forecasters under log loss
  (the Bayes mixture, η = 1). Its cumulative log loss is at most the best forecaster's
  plus ln(number of forecasters): the combination is never worse than its best input by
  more than that constant, whatever the data (Cesa-Bianchi & Lugosi, *Prediction, Learning,
  and Games*, §3.3). Losses are discounted slightly (half-life `half_life` labels) so the
  weights can follow a shop whose behaviour changes; that trades a little of the bound for
  tracking. A prior replaces ln(n) by ln(1/prior) per forecaster. The bound assumes each
  label arrives before the next forecast; churn labels arrive a horizon late, which no
  mixture can bound the same way, so forecasters can also sleep until measured
  (specialists) — an unmeasured one stays out of the mix.

>>> mix = ExpertMixture(("a", "b"))
>>> mix.mix([0.9, 0.1])  # no evidence yet: the plain average
0.5
>>> for _ in range(50):
...     mix.update([0.9, 0.1], True)  # "a" keeps being right
>>> mix.mix([0.9, 0.1]) > 0.89
True
>>> calibrate = OnlineLogit([1.0])  # starts as the identity on the logit
>>> round(calibrate.predict([logit(0.3)]), 6)
0.3
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from models.checkpoint import CheckpointError, count, field, number, numbers

EPS = 1e-4  # forecasts are kept inside [EPS, 1 - EPS]: no certainty, no infinite loss


def clip(p: float) -> float:
    return min(max(p, EPS), 1.0 - EPS)


def logit(p: float) -> float:
    """log(p / (1 − p)) of a clipped probability.

    >>> logit(0.5)
    0.0
    """
    p = clip(p)
    return math.log(p / (1.0 - p))


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def log_loss_one(p: float, y: bool) -> float:
    p = clip(p)
    return -math.log(p if y else 1.0 - p)


class OnlineLogit:
    """P(y) = sigmoid(b + Σ wᵢ·zᵢ), learned one label at a time with AdaGrad."""

    def __init__(self, weights: Sequence[float], bias: float = 0.0, step: float = 0.05) -> None:
        if step <= 0:
            raise ValueError(f"step must be positive, got {step}")
        self.weights = [float(w) for w in weights]
        self.bias = float(bias)
        self.step = step
        self._squares = [1e-8] * (len(self.weights) + 1)

    def predict(self, z: Sequence[float]) -> float:
        return sigmoid(self.bias + sum(w * v for w, v in zip(self.weights, z, strict=True)))

    def learn(self, z: Sequence[float], y: bool) -> None:
        error = self.predict(z) - float(y)  # d(log loss)/d(logit)
        gradients = [error * v for v in z] + [error]
        for index, g in enumerate(gradients):
            self._squares[index] += g * g
            delta = self.step * g / math.sqrt(self._squares[index])
            if index < len(self.weights):
                self.weights[index] -= delta
            else:
                self.bias -= delta

    def to_state(self) -> dict[str, Any]:
        return {"weights": self.weights, "bias": self.bias, "squares": self._squares}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take the learned numbers of `state` (the step stays this instance's)."""
        size = len(self.weights)
        self.weights = numbers(field(state, "weights"), "weights", size)
        self.bias = number(field(state, "bias"), "bias")
        self._squares = numbers(field(state, "squares"), "squares", size + 1)


class BinnedPlatt:
    """P(y) = sigmoid(a + b·z), (a, b) the penalised maximum likelihood over binned labels.

    >>> platt = BinnedPlatt()
    >>> platt.predict(logit(0.8))  # no labels: the identity
    0.8
    >>> for _ in range(200):  # the input says 0.8, but only half of those churn
    ...     platt.learn(logit(0.8), True)
    ...     platt.learn(logit(0.8), False)
    >>> abs(platt.predict(logit(0.8)) - 0.5) < 0.02  # (the pull towards the identity is small)
    True
    """

    BINS = 128
    LOW, HIGH = -8.0, 8.0

    def __init__(self, refit_every: int = 32, half_life: int = 4000) -> None:
        self.a, self.b = 0.0, 1.0
        self.count = [0.0] * self.BINS
        self.positives = [0.0] * self.BINS
        self.z_sum = [0.0] * self.BINS
        self.labels = 0
        self.refit_every = refit_every
        self.half_life = half_life

    def predict(self, z: float) -> float:
        return sigmoid(self.a + self.b * z)

    def learn(self, z: float, y: bool) -> None:
        z = min(max(z, self.LOW), self.HIGH)
        index = min(int((z - self.LOW) / (self.HIGH - self.LOW) * self.BINS), self.BINS - 1)
        self.count[index] += 1.0
        self.positives[index] += y
        self.z_sum[index] += z
        self.labels += 1
        if self.labels % self.half_life == 0:
            # Old evidence counts half: calibration follows a shop that changes.
            self.count = [c / 2 for c in self.count]
            self.positives = [c / 2 for c in self.positives]
            self.z_sum = [c / 2 for c in self.z_sum]
        if self.labels < self.refit_every or self.labels % self.refit_every == 0:
            self._fit()

    def _fit(self, ridge: float = 10.0, steps: int = 8) -> None:
        """Newton steps on the binned log likelihood, pulled towards the identity (0, 1)."""
        a, b = self.a, self.b
        bins = [
            (n, pos, zs / n)
            for n, pos, zs in zip(self.count, self.positives, self.z_sum, strict=True)
            if n > 0
        ]
        for _ in range(steps):
            ga, gb = ridge * a, ridge * (b - 1.0)
            haa, hab, hbb = ridge, 0.0, ridge
            for n, pos, z in bins:
                p = sigmoid(a + b * z)
                residual = n * p - pos
                ga += residual
                gb += residual * z
                w = n * p * (1.0 - p)
                haa += w
                hab += w * z
                hbb += w * z * z
            det = haa * hbb - hab * hab
            if det <= 1e-12:
                break
            da = (hbb * ga - hab * gb) / det
            db = (haa * gb - hab * ga) / det
            a, b = a - da, b - db
            if abs(da) + abs(db) < 1e-9:
                break
        self.a, self.b = a, b

    def to_state(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "count": self.count,
            "positives": self.positives,
            "z_sum": self.z_sum,
            "labels": self.labels,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.a = number(field(state, "a"), "a")
        self.b = number(field(state, "b"), "b")
        self.count = numbers(field(state, "count"), "count", self.BINS)
        self.positives = numbers(field(state, "positives"), "positives", self.BINS)
        self.z_sum = numbers(field(state, "z_sum"), "z_sum", self.BINS)
        self.labels = count(field(state, "labels"), "labels")


class ExpertMixture:
    """Weights over named forecasters from their discounted cumulative log loss.

    `prior` (optional, one weight per forecaster) is the mixture's weight before any
    label; the bound against forecaster i becomes ln(1 / prior_i) instead of ln(n). It is
    kept as a head start in loss, ln(max prior / prior_i), so it fades with old evidence.

    With `tested` set, forecasters after the first are *specialists* (Freund, Schapire,
    Singer & Warmuth 1997) that sleep until measured: one takes part in the mix only after
    `tested` labels on which its forecast differed from the first forecaster's (the
    reference, always awake) by more than `TESTED_GAP`. Labels arrive late (a churn label a horizon after its
    prediction), so a learner that has just started to say something of its own would
    otherwise sway the score for a whole horizon before any of those forecasts is measured.

    >>> mix = ExpertMixture(("a", "b"), prior=(0.8, 0.2))
    >>> [round(w, 3) for w in mix.weights()]
    [0.8, 0.2]
    >>> mix = ExpertMixture(("ref", "new"), prior=(0.7, 0.3), tested=2)
    >>> mix.mix([0.2, 0.9])  # "new" has not been measured apart from "ref": asleep
    0.2
    >>> for y in (True, True):
    ...     mix.update([0.2, 0.9], y)
    >>> mix.mix([0.2, 0.9]) > 0.8  # tested twice, and right both times
    True
    """

    TESTED_GAP = 0.01  # a forecast counts as its own beyond one point of probability

    def __init__(
        self,
        names: Sequence[str],
        half_life: float = 2000.0,
        prior: Sequence[float] = (),
        tested: int = 0,
    ) -> None:
        if half_life <= 0:
            raise ValueError(f"half_life must be positive, got {half_life}")
        self.names = tuple(names)
        self.decay = 0.5 ** (1.0 / half_life)
        if prior and (len(prior) != len(self.names) or min(prior) <= 0):
            raise ValueError(f"prior needs one positive weight per forecaster, got {prior}")
        top = max(prior, default=1.0)
        self.losses = [math.log(top / w) for w in prior] if prior else [0.0] * len(self.names)
        self.labels = 0
        self.min_tested = tested
        # Per forecaster: labels on which it said something other than the reference.
        self.tested = [0] * len(self.names)
        self._weights: list[float] | None = None  # until the next label (scores outnumber labels)

    def awake(self) -> list[bool]:
        """Which forecasters take part in the mix (all, without a `tested` minimum)."""
        return [i == 0 or n >= self.min_tested for i, n in enumerate(self.tested)]

    def weights(self) -> list[float]:
        if self._weights is None:
            self._weights = self._compute_weights()
        return self._weights

    def _compute_weights(self) -> list[float]:
        awake = self.awake()
        best = min(loss for loss, on in zip(self.losses, awake, strict=True) if on)
        raw = [
            math.exp(best - loss) if on else 0.0
            for loss, on in zip(self.losses, awake, strict=True)
        ]
        total = sum(raw)
        return [w / total for w in raw]

    def mix(self, forecasts: Sequence[float]) -> float:
        # As the first forecast plus weighted differences (the same average): forecasts
        # that agree give exactly that forecast back, whatever the rounding of the weights.
        first = clip(forecasts[0])
        return first + sum(
            w * (clip(p) - first) for w, p in zip(self.weights(), forecasts, strict=True)
        )

    def update(self, forecasts: Sequence[float], y: bool) -> None:
        """Charge each forecaster the log loss of what it said at prediction time."""
        self._weights = None
        self.labels += 1
        if self.min_tested:
            reference = forecasts[0]
            for index, p in enumerate(forecasts):
                if abs(p - reference) > self.TESTED_GAP:
                    self.tested[index] += 1
        self.losses = [
            self.decay * loss + log_loss_one(p, y)
            for loss, p in zip(self.losses, forecasts, strict=True)
        ]

    def to_state(self) -> dict[str, Any]:
        return {"losses": self.losses, "labels": self.labels, "tested": self.tested}

    def restore(self, state: Mapping[str, Any]) -> None:
        losses = numbers(field(state, "losses"), "losses", len(self.names))
        if min(losses) < 0:
            raise CheckpointError("checkpoint field losses holds a negative loss")
        self.losses = losses
        self._weights = None
        self.labels = count(field(state, "labels"), "labels")
        if "tested" in state:
            tested = field(state, "tested")
            if not isinstance(tested, list) or len(tested) != len(self.names):
                raise CheckpointError("checkpoint field tested is not a list of counts")
            self.tested = [count(n, f"tested[{i}]") for i, n in enumerate(tested)]
        else:  # a checkpoint from before specialists: every forecaster takes part
            self.tested = [self.min_tested] * len(self.names)
