"""What the pipeline needs from online models, as protocols: the core imports no River.

`models/` implements these; the pipeline gets one `ModelSuite` per partition from a factory,
so in-process replay and the worker run the same models on the same per-partition streams.
A suite member may be None (that model is switched off in the configuration).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol


class ChurnModelLike(Protocol):
    labels: int  # final labels learned so far
    drifts: int  # drift detections on the error stream so far
    baseline_due: int  # event time of the next baseline refit
    input_names: tuple[str, ...]  # the forecasts combined into the score, in order

    def fit_baseline(
        self, repeats: list[int], recency: list[float], age: list[float], now: int
    ) -> None: ...

    def baseline(self, repeats: int, recency: float, age: float, horizon_days: float) -> float:
        """A label-free P(churn) from the purchase history (BG/NBD)."""
        ...

    def score(self, x: Mapping[str, float], base: float) -> tuple[float, list[float]]:
        """The combined P(churn) and each input's forecast (in `input_names` order)."""
        ...

    def learn(self, x: Mapping[str, float], inputs: list[float], y: bool) -> None:
        """A final label for a point scored earlier with `x` and forecasts `inputs`."""
        ...

    def contributions(self, x: Mapping[str, float]) -> dict[str, float]:
        """Each feature's push on the log-odds of churn (positive: towards churn)."""
        ...

    def mixture(self) -> dict[str, tuple[float, int]]:
        """Per input (`input_names` order): its weight in the score now, and how many
        final labels have measured a forecast of its own (one that differed from BG/NBD's)."""
        ...


class ClusterModelLike(Protocol):
    def learn_predict_one(self, x: Mapping[str, float]) -> int: ...

    def label(self, cluster: int) -> str:
        """The persona label of a cluster, comparable across partitions."""
        ...

    def describe(self) -> dict[int, str]:
        """A readable name per cluster, from its centroid."""
        ...


class RecommenderLike(Protocol):
    def learn_one(self, recent: Sequence[str], item: str, weight: float) -> None: ...

    def recommend(
        self, recent: Sequence[str], k: int, exclude: Collection[str] = ()
    ) -> list[str]: ...


class ModelSuite(Protocol):
    @property
    def churn(self) -> ChurnModelLike | None: ...

    @property
    def clusters(self) -> ClusterModelLike | None: ...

    @property
    def recommender(self) -> RecommenderLike | None: ...


SuiteFactory = Callable[[int], ModelSuite]  # partition number -> its models
