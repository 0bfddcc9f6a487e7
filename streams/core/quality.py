"""Online quality of a probability score over resolved labels: ROC AUC, log loss, calibration.

Scores are counted in fine bins (1/1000), so the figures merge across partitions and cost
constant memory; AUC is exact up to ties within a bin (counted as half).

>>> q = ScoreQuality()
>>> for score, label in [(0.9, True), (0.8, True), (0.3, False), (0.1, False), (0.85, False)]:
...     q.add(score, label)
>>> round(q.auc(), 3), q.count, q.positives
(0.833, 5, 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

BINS: Final = 1000
CALIBRATION_BINS: Final = 10
EPS: Final = 1e-6


@dataclass(slots=True)
class ScoreQuality:
    count: int = 0
    positives: int = 0
    loss_sum: float = 0.0
    pos_bins: list[int] = field(default_factory=lambda: [0] * BINS)
    neg_bins: list[int] = field(default_factory=lambda: [0] * BINS)
    # Per calibration bin: [points, predicted sum, positives].
    calibration: list[list[float]] = field(
        default_factory=lambda: [[0, 0.0, 0] for _ in range(CALIBRATION_BINS)]
    )

    def add(self, score: float, label: bool) -> None:
        p = min(max(score, EPS), 1 - EPS)
        self.count += 1
        self.loss_sum -= math.log(p if label else 1 - p)
        index = min(int(score * BINS), BINS - 1)
        if label:
            self.positives += 1
            self.pos_bins[index] += 1
        else:
            self.neg_bins[index] += 1
        row = self.calibration[min(int(score * CALIBRATION_BINS), CALIBRATION_BINS - 1)]
        row[0] += 1
        row[1] += score
        row[2] += label

    def auc(self) -> float:
        """P(a random positive scores above a random negative); NaN until both exist."""
        negatives = self.count - self.positives
        if not self.positives or not negatives:
            return math.nan
        below = 0  # negatives in lower bins
        wins = 0.0
        for pos, neg in zip(self.pos_bins, self.neg_bins, strict=True):
            wins += pos * (below + neg / 2)
            below += neg
        return wins / (self.positives * negatives)

    def log_loss(self) -> float:
        return self.loss_sum / self.count if self.count else math.nan

    def calibration_table(self) -> list[dict[str, Any]]:
        """Mean predicted vs observed churn rate per score decile (non-empty ones)."""
        return [
            {
                "scores": f"{i / CALIBRATION_BINS:.1f}-{(i + 1) / CALIBRATION_BINS:.1f}",
                "points": int(n),
                "mean_score": round(total / n, 4),
                "churn_rate": round(hits / n, 4),
            }
            for i, (n, total, hits) in enumerate(self.calibration)
            if n
        ]
