"""Online models (River), no Faust: churn risk, and later clusters and recommendations.

Every model speaks River's vocabulary (`learn_one`, `predict_proba_one`) and is saved with
`models.checkpoint` (versioned header checked before unpickling).
"""

from models.churn import ChurnConfig, ChurnModel

#: Every model, for the generic contract tests: name → factory with a fixed configuration.
REGISTRY = {"churn": lambda: ChurnModel(ChurnConfig())}

__all__ = ["REGISTRY", "ChurnConfig", "ChurnModel"]
