"""BG/NBD (Fader, Hardie & Lee 2005): the classic "Buy Till You Die" churn baseline.

Each customer buys at a Poisson rate λ ~ Gamma(r, α) while alive, and after every repeat
purchase drops out with probability p ~ Beta(a, b). From a customer's repeat purchases
`x`, the time of the last one `tx` and their age `T` (days since the first purchase),
the model gives P(alive) and so P(no purchase in the next H days):

    P(alive)     = 1 / (1 + [x > 0] · a / (b + x − 1) · ((α + T) / (α + tx))^(r + x))
    P(none in H) = 1 − P(alive) + P(alive) · ((α + T) / (α + T + H))^(r + x)

Parameters are fitted by maximum likelihood over all customers' (x, tx, T) with SciPy,
which River already depends on (the `lifetimes` package does the same but is no longer
maintained).

>>> import numpy as np
>>> model = BgNbd()
>>> x, tx, T = np.array([0, 5, 2, 10]), np.array([0.0, 50, 10, 80]), np.array([90.0, 60, 90, 85])
>>> model.fit(x, tx, T).fitted
True
>>> p = model.p_no_purchase(x, tx, T, 30.0)
>>> bool(p[1] < p[0]), bool(((p > 0) & (p < 1)).all())
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from models.checkpoint import CheckpointError, field, numbers

Array = NDArray[np.float64]


# Before the first fit: weak priors (r = 0.5, α = 30 days, a = 1, b = 3) — a customer of
# unknown pace, likely alive. They never give exactly 0 or 1, even for a same-day repeat.
PRIOR_PARAMS = (0.5, 30.0, 1.0, 3.0)


class BgNbd:
    def __init__(self) -> None:
        self.log_params = np.log(np.array(PRIOR_PARAMS))  # log r, log α, log a, log b
        self.fitted = False

    @property
    def log_params(self) -> Array:
        return self._log_params

    @log_params.setter
    def log_params(self, value: Array) -> None:
        self._log_params = value
        # (r, α, a, b) as floats, for `p_no_purchase_one`: it runs at every scoring, and
        # exp over a numpy array costs more than the forecast itself.
        self._params = tuple(math.exp(float(v)) for v in value)

    def negative_log_likelihood(self, log_params: Array, x: Array, tx: Array, T: Array) -> float:
        r, alpha, a, b = np.exp(log_params)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                x > 0,
                np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + tx),
                -np.inf,
            )
        total = a1 + a2 + np.logaddexp(a3, a4)
        # A small pull towards 1 keeps the parameters finite on tiny or odd samples.
        return float(-total.sum() + 0.01 * (log_params**2).sum())

    def loss_and_gradient(
        self, log_params: Array, x: Array, tx: Array, T: Array
    ) -> tuple[float, Array]:
        """`negative_log_likelihood` and its exact gradient in the log parameters.

        The fit needs both; finite differences would cost four more passes over every
        buyer per step (most of a refit's time).

        >>> from scipy.optimize import check_grad
        >>> x, tx, T = np.array([0.0, 5, 2, 10]), np.array([0.0, 50, 10, 80]), np.array([90.0, 60, 90, 85])
        >>> model, point = BgNbd(), np.log(np.array([0.7, 12.0, 0.8, 2.5]))
        >>> error = check_grad(lambda p: model.loss_and_gradient(p, x, tx, T)[0],
        ...                    lambda p: model.loss_and_gradient(p, x, tx, T)[1], point)
        >>> bool(error < 1e-4), model.loss_and_gradient(point, x, tx, T)[0] == model.negative_log_likelihood(point, x, tx, T)
        (True, True)
        """
        r, alpha, a, b = np.exp(log_params)
        repeat = x > 0
        b_x = np.maximum(b + x - 1, 1e-12)
        log_alpha_T = np.log(alpha + T)
        log_alpha_tx = np.log(alpha + tx)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        a3 = -(r + x) * log_alpha_T
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(repeat, np.log(a) - np.log(b_x) - (r + x) * log_alpha_tx, -np.inf)
        log_sum = np.logaddexp(a3, a4)
        total = a1 + a2 + log_sum
        loss = float(-total.sum() + 0.01 * (log_params**2).sum())
        # Weights of the two terms inside the log-sum (w4 = 0 for customers with no repeat).
        w3 = np.exp(a3 - log_sum)
        w4 = np.where(repeat, np.exp(a4 - log_sum), 0.0)
        psi_ab, psi_abx = digamma(a + b), digamma(a + b + x)
        d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * log_alpha_T - w4 * log_alpha_tx
        d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + tx))
        d_a = psi_ab - psi_abx + w4 / a
        d_b = psi_ab + digamma(b + x) - digamma(b) - psi_abx - w4 * (b + x - 1 > 1e-12) / b_x
        # d/d(log θ) = θ · d/dθ; the loss is the negative sum plus the pull towards 1.
        gradient = (
            -np.array([r * d_r.sum(), alpha * d_alpha.sum(), a * d_a.sum(), b * d_b.sum()])
            + 0.02 * log_params
        )
        return loss, np.asarray(gradient, dtype=float)

    def fit(self, x: Any, tx: Any, T: Any) -> BgNbd:
        xs, txs, Ts = (np.asarray(v, dtype=float) for v in (x, tx, T))
        result = minimize(
            self.loss_and_gradient,
            self.log_params,
            args=(xs, txs, Ts),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-8.0, 8.0)] * 4,
        )
        self.log_params = np.asarray(result.x, dtype=float)
        self.fitted = True
        return self

    def to_state(self) -> dict[str, Any]:
        return {"log_params": [float(v) for v in self.log_params], "fitted": self.fitted}

    def restore(self, state: Mapping[str, Any]) -> None:
        # Inside the fit's bounds, so a forged state cannot overflow the forecasts.
        log_params = numbers(field(state, "log_params"), "log_params", 4)
        if any(abs(v) > 8.0 for v in log_params):
            raise CheckpointError("checkpoint field log_params is outside [-8, 8]")
        fitted = field(state, "fitted")
        if not isinstance(fitted, bool):
            raise CheckpointError("checkpoint field fitted is not true or false")
        self.log_params = np.array(log_params, dtype=float)
        self.fitted = fitted

    def p_no_purchase_one(self, x: int, tx: float, T: float, horizon: float) -> float:
        """`p_no_purchase` for one customer in plain floats (numpy costs more for one).

        >>> model = BgNbd()
        >>> model.p_no_purchase_one(3, 20.0, 30.0, 10.0) == float(model.p_no_purchase([3], [20.0], [30.0], 10.0)[0])
        True
        """
        r, alpha, a, b = self._params
        dead_odds = (
            a / max(b + x - 1, 1e-12) * ((alpha + T) / (alpha + tx)) ** (r + x) if x > 0 else 0.0
        )
        alive = 1.0 / (1.0 + dead_odds)
        return float(1.0 - alive + alive * ((alpha + T) / (alpha + T + horizon)) ** (r + x))

    def p_no_purchase(self, x: Any, tx: Any, T: Any, horizon: float) -> Array:
        xs, txs, Ts = (np.asarray(v, dtype=float) for v in (x, tx, T))
        r, alpha, a, b = np.exp(self.log_params)
        with np.errstate(divide="ignore", invalid="ignore"):
            dead_odds = np.where(
                xs > 0,
                a / np.maximum(b + xs - 1, 1e-12) * ((alpha + Ts) / (alpha + txs)) ** (r + xs),
                0.0,
            )
        alive = 1.0 / (1.0 + dead_odds)
        quiet_if_alive = ((alpha + Ts) / (alpha + Ts + horizon)) ** (r + xs)
        return np.asarray(1.0 - alive + alive * quiet_if_alive, dtype=float)
