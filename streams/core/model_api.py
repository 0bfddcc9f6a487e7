"""What the pipeline needs from online models, as protocols: the core imports no River.

`models/` implements these; the pipeline gets one `ModelSuite` per partition from a factory,
so in-process replay and the worker run the same models on the same per-partition streams.
A suite member may be None (that model is switched off in the configuration).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol


class ChurnModelLike(Protocol):
    labels: int  # labels learned so far
    positives: int  # churned labels learned so far
    drifts: int  # drift detections on the error stream so far
    baseline_due: int  # event time of the next baseline refit

    def fit_baseline(
        self, repeats: list[int], recency: list[float], age: list[float], now: int
    ) -> None: ...

    def baseline(
        self, repeats: int, recency: float, age: float, horizon_days: float
    ) -> float | None:
        """A label-free P(churn) from the purchase history (BG/NBD), once fitted."""
        ...

    def predict_proba_one(self, x: Mapping[str, float]) -> float: ...

    def learn_one(self, x: Mapping[str, float], y: bool) -> None: ...

    def contributions(self, x: Mapping[str, float]) -> dict[str, float]:
        """Each feature's push on the log-odds of churn (positive: towards churn)."""
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
