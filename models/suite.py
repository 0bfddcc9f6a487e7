"""One partition's models together: built from the configuration, checkpointed per model.

The worker keeps a suite per partition and saves the models that changed with each
batch of user states (so a restart restores models and users from the same moment);
in-process replay builds the same suites, so both give the same scores.

>>> from streams.core.config import PulseConfig
>>> suite = build_suite(PulseConfig())
>>> sorted(suite.dump_changed())  # nothing learned yet, but never saved either
['churn', 'clusters', 'recommendations']
>>> suite.dump_changed()
{}
>>> restored, errors = restore_suite(PulseConfig(), {"churn": b"garbage"})
>>> errors
['churn: not a Pulse model checkpoint (no header); start from a fresh model']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from models.checkpoint import CheckpointError, dump, load
from models.churn import ChurnConfig, ChurnModel
from models.clusters import ClusterConfig, ClusterModel
from models.cooccurrence import CoOccurrence, CoOccurrenceConfig
from streams.core.config import PulseConfig
from streams.core.model_api import SuiteFactory
from streams.core.personas import levels_in_model_units

# Model checkpoints may add at most this share of the input's bytes to the changelog.
CHECKPOINT_SHARE: Final = 0.5


@dataclass
class Suite:
    churn: ChurnModel | None
    clusters: ClusterModel | None
    recommender: CoOccurrence | None
    _saved: dict[str, int] = field(default_factory=dict)
    _sizes: dict[str, int] = field(default_factory=dict)  # bytes of each last checkpoint
    _input: dict[str, int] = field(default_factory=dict)  # input bytes since it was written

    def members(self) -> dict[str, Any]:
        named = {
            "churn": self.churn,
            "clusters": self.clusters,
            "recommendations": self.recommender,
        }
        return {name: model for name, model in named.items() if model is not None}

    def dump_all(self) -> dict[str, bytes]:
        """Checkpoints of every model (a snapshot), changed or not."""
        return {name: _checkpoint(model) for name, model in self.members().items()}

    def dump_changed(self, input_bytes: int | None = None) -> dict[str, bytes]:
        """Checkpoints of the models that learned something since they were last written.

        With `input_bytes` (the input processed since the last call), a changed model is
        written only once the input since its last checkpoint reaches that checkpoint's size
        times the number of models over `CHECKPOINT_SHARE`: over a run, all checkpoints
        together add at most that share of the input's bytes to the changelog, however
        large a model grows. Without it (revocation, shutdown), every changed model is
        written.

        >>> from models.churn import ChurnModel
        >>> suite = Suite(ChurnModel(), None, None)
        >>> suite.churn.learn_one({"orders": 1.0}, True)
        >>> first = suite.dump_changed(input_bytes=10)  # never written: written now
        >>> suite.churn.learn_one({"orders": 2.0}, False)
        >>> suite.dump_changed(input_bytes=10), sorted(suite.dump_changed())  # budget, then final
        ({}, ['churn'])
        """
        blobs = {}
        members = self.members()
        spacing = len(members) / CHECKPOINT_SHARE  # input bytes per checkpoint byte
        for name, model in members.items():
            if input_bytes is not None:
                self._input[name] = self._input.get(name, 0) + input_bytes
            step = _step(model)
            if self._saved.get(name) == step:
                continue
            if input_bytes is not None and self._input[name] < spacing * self._sizes.get(name, 0):
                continue  # not yet: too little input since the last checkpoint
            blobs[name] = blob = _checkpoint(model)
            self._saved[name] = step
            self._sizes[name] = len(blob)
            self._input[name] = 0
        return blobs


def _checkpoint(model: Any) -> bytes:
    return dump(model.to_state(), kind=model.kind, config=model.config.to_dict())


def _step(model: Any) -> int:
    # The churn model also changes without a label (BG/NBD refits), so it counts changes.
    return int(model.changes if isinstance(model, ChurnModel) else model.updates)


def _configs(config: PulseConfig) -> dict[str, Any]:
    settings = config.models
    return {
        "churn": ChurnConfig() if settings.churn.enabled else None,
        "clusters": (
            ClusterConfig(k=settings.clusters.k, thresholds=levels_in_model_units())
            if settings.clusters.enabled
            else None
        ),
        "recommendations": (
            CoOccurrenceConfig(
                max_items=settings.recommendations.max_items,
                neighbours=settings.recommendations.neighbours,
            )
            if settings.recommendations.enabled
            else None
        ),
    }


def build_suite(config: PulseConfig) -> Suite:
    made = _configs(config)
    return Suite(
        churn=ChurnModel(made["churn"]) if made["churn"] else None,
        clusters=ClusterModel(made["clusters"]) if made["clusters"] else None,
        recommender=CoOccurrence(made["recommendations"]) if made["recommendations"] else None,
    )


def suite_factory(config: PulseConfig) -> SuiteFactory:
    """Fresh models per partition (the core pipeline calls it once per partition)."""
    return lambda partition: build_suite(config)


def restore_suite(config: PulseConfig, blobs: Mapping[str, bytes]) -> tuple[Suite, list[str]]:
    """A suite from saved checkpoints; a model whose checkpoint does not fit starts fresh.

    Returns the suite and one message per rejected checkpoint (what it was and why).
    """
    suite = build_suite(config)
    spare = build_suite(config).members()  # restored into, so a failure leaves nothing half-set
    errors: list[str] = []
    restored: dict[str, Any] = {}
    for name, model in spare.items():
        blob = blobs.get(name)
        if blob is None:
            continue
        try:
            model.restore(load(blob, kind=model.kind, config=model.config.to_dict()))
        except CheckpointError as exc:
            errors.append(f"{name}: {exc}")
            continue
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
            # A checker missed something: still a rejected checkpoint, never a crash loop.
            errors.append(f"{name}: checkpoint does not fit this model ({exc!r:.200})")
            continue
        restored[name] = model
    suite.churn = restored.get("churn", suite.churn)
    suite.clusters = restored.get("clusters", suite.clusters)
    suite.recommender = restored.get("recommendations", suite.recommender)
    suite._saved = {name: _step(model) for name, model in restored.items()}
    return suite, errors
