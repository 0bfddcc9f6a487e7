"""Online models (River), no Faust: churn risk, behavioural clusters, recommendations.

Every model speaks River's vocabulary (`learn_one`, `predict_proba_one` / `predict_one`)
and is saved with `models.checkpoint` (versioned header checked before unpickling).
"""

from models.churn import ChurnConfig, ChurnModel
from models.clusters import ClusterConfig, ClusterModel
from models.cooccurrence import CoOccurrence, CoOccurrenceConfig

#: Every model, for the generic contract tests: name → factory with a fixed configuration.
REGISTRY = {
    "churn": lambda: ChurnModel(ChurnConfig()),
    "clusters": lambda: ClusterModel(ClusterConfig()),
    "recommendations": lambda: CoOccurrence(CoOccurrenceConfig()),
}

__all__ = [
    "REGISTRY",
    "ChurnConfig",
    "ChurnModel",
    "ClusterConfig",
    "ClusterModel",
    "CoOccurrence",
    "CoOccurrenceConfig",
]
