"""Generic checks every registered model passes (the models issue's contract)."""

from __future__ import annotations

import pickle
import random
import tracemalloc

import pytest

from models import REGISTRY
from models.checkpoint import CheckpointError, dump, header, load

NAMES = sorted(REGISTRY)


def examples(seed: int, n: int) -> list[tuple[dict[str, float], bool]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        gap = rng.uniform(0, 120)
        orders = float(rng.randint(0, 12))
        rows.append(({"days_since_last": gap, "orders": orders}, gap > 60 and orders < 3))
    return rows


@pytest.mark.parametrize("name", NAMES)
def test_predicts_before_learning(name: str) -> None:
    p = REGISTRY[name]().predict_proba_one({"orders": 1.0})
    assert 0.0 <= p <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip_before_and_after_learning(name: str) -> None:
    model = REGISTRY[name]()
    x = {"days_since_last": 10.0, "orders": 2.0}
    assert pickle.loads(pickle.dumps(model)).predict_proba_one(x) == model.predict_proba_one(x)
    for features, label in examples(1, 300):
        model.learn_one(features, label)
    copy = pickle.loads(pickle.dumps(model))
    assert copy.predict_proba_one(x) == model.predict_proba_one(x)


@pytest.mark.parametrize("name", NAMES)
def test_missing_and_unseen_features_do_not_fail(name: str) -> None:
    model = REGISTRY[name]()
    for features, label in examples(2, 100):
        model.learn_one(features, label)
    assert 0.0 <= model.predict_proba_one({}) <= 1.0
    assert 0.0 <= model.predict_proba_one({"never_seen": 3.0}) <= 1.0
    model.learn_one({"never_seen": 3.0}, True)


@pytest.mark.parametrize("name", NAMES)
def test_the_input_dict_is_not_kept_or_changed(name: str) -> None:
    model = REGISTRY[name]()
    x = {"days_since_last": 70.0, "orders": 1.0}
    model.learn_one(x, True)
    before = model.predict_proba_one({"days_since_last": 70.0, "orders": 1.0})
    x["days_since_last"] = 1e9  # mutating the caller's dict must not reach the model
    assert x == {"days_since_last": 1e9, "orders": 1.0}
    assert model.predict_proba_one({"days_since_last": 70.0, "orders": 1.0}) == before


@pytest.mark.parametrize("name", NAMES)
def test_same_data_same_predictions(name: str) -> None:
    first, second = REGISTRY[name](), REGISTRY[name]()
    for features, label in examples(3, 200):
        first.learn_one(features, label)
        second.learn_one(features, label)
    probe = {"days_since_last": 50.0, "orders": 2.0}
    assert first.predict_proba_one(probe) == second.predict_proba_one(probe)


@pytest.mark.parametrize("name", NAMES)
def test_memory_is_bounded_after_many_updates(name: str) -> None:
    model = REGISTRY[name]()
    data = examples(4, 2000)
    for features, label in data[:200]:
        model.learn_one(features, label)
    tracemalloc.start()
    for features, label in data:
        model.learn_one(features, label)
    grown = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert grown < 200_000, f"{grown} bytes kept after 2,000 updates with the same features"


@pytest.mark.parametrize("name", NAMES)
def test_learning_separates_the_classes(name: str) -> None:
    model = REGISTRY[name]()
    data = examples(5, 3000)
    for features, label in data:
        model.learn_one(features, label)
    base_rate = sum(label for _, label in data) / len(data)
    # A typical churner scores well above the base rate, a typical loyal buyer well below.
    assert model.predict_proba_one({"days_since_last": 100.0, "orders": 1.0}) > 2 * base_rate
    assert model.predict_proba_one({"days_since_last": 5.0, "orders": 10.0}) < base_rate / 2


def test_checkpoints_refuse_what_they_should_not_unpickle() -> None:
    model = REGISTRY["churn"]()
    config = model.config.to_dict()
    blob = dump(model, "churn", config)
    assert header(blob)["kind"] == "churn"
    assert load(blob, "churn", config).predict_proba_one({}) == model.predict_proba_one({})
    with pytest.raises(CheckpointError, match="no header"):
        load(pickle.dumps(model), "churn", config)  # a bare pickle from somewhere else
    with pytest.raises(CheckpointError, match="another model configuration"):
        load(blob, "churn", {**config, "l2": 0.5})
    forged = blob.replace(b'"format": 1', b'"format": 9', 1)
    with pytest.raises(CheckpointError, match="format 9"):
        load(forged, "churn", config)
