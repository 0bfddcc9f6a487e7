"""Behavioural clusters: online k-means (River) on standardised behaviour features.

`learn_predict_one` standardises with running means and variances, moves the nearest
centre a little towards the point and returns its index. A small step (`halflife`) keeps
centres, and so cluster ids, stable; `describe()` names each cluster from its centroid.

>>> model = ClusterModel(ClusterConfig(k=2))
>>> for i in range(300):
...     _ = model.learn_predict_one({"views": 40.0 + i % 5, "orders": 0.0})
...     _ = model.learn_predict_one({"views": 2.0, "orders": 6.0 + i % 3})
>>> model.learn_predict_one({"views": 42.0, "orders": 0.0}) != model.learn_predict_one({"views": 2.0, "orders": 7.0})
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, cast

from river import cluster, preprocessing

from models.checkpoint import CheckpointError, count, field, number_map


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    k: int = 6
    halflife: float = 0.05  # share of the way a centre moves towards each point
    seed: int = 7
    # (feature, level in input units): a cluster whose centre reaches a level is named
    # `high_<feature>` after the one it exceeds most (see `name_centre`).
    thresholds: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        # Lists, as the config reads back from a checkpoint's JSON header.
        return {**asdict(self), "thresholds": [list(pair) for pair in self.thresholds]}


RENAME_EVERY = 200  # updates between refreshes of the cluster labels


class ClusterModel:
    kind = "clusters"

    def __init__(self, config: ClusterConfig | None = None) -> None:
        self.config = config or ClusterConfig()
        self.updates = 0
        self._labels: dict[int, str] = {}
        self._scaler: Any = preprocessing.StandardScaler()
        self._kmeans = cluster.KMeans(
            n_clusters=self.config.k, halflife=self.config.halflife, seed=self.config.seed
        )

    def learn_predict_one(self, x: Mapping[str, float]) -> int:
        point = dict(x)
        self._scaler.learn_one(point)
        scaled = self._scaler.transform_one(point)
        # River's KMeans.learn_one finds the nearest centre and moves it; finding it once
        # here and moving it the same way halves the distance computations.
        nearest = self._nearest(scaled)
        centre = self._kmeans.centers[nearest]
        step = self.config.halflife
        for name, value in scaled.items():
            centre[name] += step * (value - centre[name])
        self.updates += 1
        return nearest

    def to_state(self) -> dict[str, Any]:
        scaler = self._scaler
        version, internal, gauss_next = self._kmeans._rng.getstate()
        return {
            "updates": self.updates,
            "labels": {str(index): name for index, name in self._labels.items()},
            "counts": dict(scaler.counts),
            "means": dict(scaler.means),
            "vars": dict(scaler.vars),
            "centers": {str(index): dict(c) for index, c in self._kmeans.centers.items()},
            # New features get random starting coordinates: the generator's state keeps a
            # restored model drawing what the uninterrupted one would have drawn.
            "rng": [version, list(internal), gauss_next],
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take a checkpoint's numbers; CheckpointError names the first field that is wrong."""
        self.updates = count(field(state, "updates"), "updates")
        labels = field(state, "labels")
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise CheckpointError("checkpoint field labels is not a map of names")
        counts = number_map(field(state, "counts"), "counts")
        means = number_map(field(state, "means"), "means")
        variances = number_map(field(state, "vars"), "vars")
        if any(v < 0 for v in (*counts.values(), *variances.values())):
            raise CheckpointError("checkpoint holds a negative count or variance")
        centers = field(state, "centers")
        if not isinstance(centers, dict) or set(centers) != {str(i) for i in range(self.config.k)}:
            raise CheckpointError(f"checkpoint field centers does not hold {self.config.k} centres")
        self._labels = {_index(key, self.config.k): name for key, name in labels.items()}
        self._scaler.counts.update({name: int(n) for name, n in counts.items()})
        self._scaler.means.update(means)
        self._scaler.vars.update(variances)
        for key, centre in centers.items():
            self._kmeans.centers[int(key)].update(number_map(centre, f"centers[{key}]"))
        self._kmeans._rng.setstate(_rng_state(field(state, "rng")))

    def predict_one(self, x: Mapping[str, float]) -> int:
        return self._nearest(self._scaler.transform_one(dict(x)))

    def _nearest(self, point: Mapping[str, float]) -> int:
        # Our own loop, not River's distance: that sums over a set of keys, whose order
        # (string hashing) changes between processes, and near-ties then flip — replays
        # must give the same clusters byte for byte.
        best, best_distance = 0, float("inf")
        for index, centre in self._kmeans.centers.items():
            distance = 0.0
            for name, value in point.items():
                diff = centre[name] - value
                distance += diff * diff
            if distance < best_distance:
                best, best_distance = index, distance
        return best

    def label(self, cluster: int) -> str:
        """A persona label for a cluster from its centre, the same in every partition.

        Indices differ between models (each partition learns its own), so labels name
        behaviour in absolute terms (`name_centre`). They are refreshed every 200 updates,
        so they change only as centroids settle.
        """
        if self.updates % RENAME_EVERY == 1 or cluster not in self._labels:
            self._labels = {
                index: name_centre(self.centre_values(index), self.config.thresholds)
                for index in self._kmeans.centers
            }
        return self._labels[cluster]

    def centre_values(self, cluster: int) -> dict[str, float]:
        """A cluster's centre in input units (the scaler's standardisation undone).

        A feature that never varied is at its mean, whatever the random start of the centre.
        """
        scaler, centre = self._scaler, self._kmeans.centers[cluster]
        values = {}
        for name, mean in scaler.means.items():
            spread = math.sqrt(scaler.vars.get(name, 0.0))
            values[name] = mean + centre.get(name, 0.0) * spread if spread else mean
        return values

    def centroids(self) -> dict[int, dict[str, float]]:
        """Cluster centres in standard deviations from the mean of each feature."""
        return {index: dict(centre) for index, centre in self._kmeans.centers.items()}

    def describe(self) -> dict[int, str]:
        """A name per cluster: its two most above-average features (or most below)."""
        names: dict[int, str] = {}
        for index, centre in self.centroids().items():
            ranked = sorted(centre.items(), key=lambda kv: (-kv[1], kv[0]))
            high = [name for name, z in ranked[:2] if z >= 0.5]
            if high:
                names[index] = ", ".join(f"high {name}" for name in high)
            else:
                low = [name for name, _ in sorted(centre.items(), key=lambda kv: (kv[1], kv[0]))]
                names[index] = ", ".join(f"low {name}" for name in low[:2]) or "no data yet"
        return names


def name_centre(centre: Mapping[str, float], thresholds: tuple[tuple[str, float], ...]) -> str:
    """`high_<feature>` for the level the centre exceeds most (by ratio); else `average`,
    or `low_activity` when every feature is below a quarter of its level.

    >>> levels = (("views", 30.0), ("discount_share", 0.3))
    >>> name_centre({"views": 45.0, "discount_share": 0.1}, levels)
    'high_views'
    >>> name_centre({"views": 12.0, "discount_share": 0.0}, levels)
    'average'
    >>> name_centre({"views": 2.0, "discount_share": 0.0}, levels)
    'low_activity'
    """
    if not thresholds:
        return "average"
    ratio, name = max((centre.get(feature, 0.0) / level, feature) for feature, level in thresholds)
    if ratio >= 1.0:
        return f"high_{name}"
    return "low_activity" if ratio < 0.25 else "average"


def _index(key: str, k: int) -> int:
    if not key.isdigit() or int(key) >= k:
        raise CheckpointError(f"checkpoint names cluster {key!r}, not one of 0..{k - 1}")
    return int(key)


def _rng_state(value: Any) -> tuple[Any, ...]:
    """`random.Random.getstate()` back from JSON: (version, 625 words, gauss_next)."""
    ok = (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[1], list)
        and len(value[1]) == 625
        and all(isinstance(w, int) and 0 <= w < 2**32 for w in value[1])
        and (value[2] is None or isinstance(value[2], float))
    )
    if not ok:
        raise CheckpointError("checkpoint field rng is not a random generator's state")
    return cast(tuple[Any, ...], (value[0], tuple(value[1]), value[2]))
