"""Generic checks every registered model passes (the models issue's contract).

Models speak different River verbs (a classifier, a clusterer, a recommender), so each is
driven through a small adapter: `learn(model, x, y)` and `predict(model, x)`.
"""

from __future__ import annotations

import pickle
import random
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from models import REGISTRY
from models.checkpoint import CheckpointError, dump, header, load
from models.suite import build_suite, restore_suite
from streams.core.config import PulseConfig


def _recent(x: dict[str, float]) -> list[str]:
    return [f"item{int(x.get('orders', 0.0))}"]


def _item(x: dict[str, float], y: bool) -> str:
    return f"item{int(x.get('days_since_last', 0.0)) // 10}{'c' if y else ''}"


@dataclass(frozen=True)
class Driver:
    learn: Callable[[Any, dict[str, float], bool], Any]
    predict: Callable[[Any, dict[str, float]], Any]


DRIVERS = {
    "churn": Driver(lambda m, x, y: m.learn_one(x, y), lambda m, x: m.predict_proba_one(x)),
    "clusters": Driver(lambda m, x, y: m.learn_predict_one(x), lambda m, x: m.predict_one(x)),
    "recommendations": Driver(
        lambda m, x, y: m.learn_one(_recent(x), _item(x, y), 1.0),
        lambda m, x: m.recommend(_recent(x), 5),
    ),
}
NAMES = sorted(REGISTRY)


def test_every_registered_model_has_a_driver() -> None:
    assert sorted(DRIVERS) == NAMES


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
    model, drive = REGISTRY[name](), DRIVERS[name]
    prediction = drive.predict(model, {"orders": 1.0})
    if name == "churn":
        assert 0.0 <= prediction <= 1.0
    else:
        assert prediction is not None


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip_before_and_after_learning(name: str) -> None:
    model, drive = REGISTRY[name](), DRIVERS[name]
    x = {"days_since_last": 10.0, "orders": 2.0}
    assert drive.predict(pickle.loads(pickle.dumps(model)), x) == drive.predict(model, x)
    for features, label in examples(1, 300):
        drive.learn(model, features, label)
    copy = pickle.loads(pickle.dumps(model))
    assert drive.predict(copy, x) == drive.predict(model, x)


@pytest.mark.parametrize("name", NAMES)
def test_missing_and_unseen_features_do_not_fail(name: str) -> None:
    model, drive = REGISTRY[name](), DRIVERS[name]
    for features, label in examples(2, 100):
        drive.learn(model, features, label)
    assert drive.predict(model, {}) is not None
    assert drive.predict(model, {"never_seen": 3.0}) is not None
    drive.learn(model, {"never_seen": 3.0}, True)


@pytest.mark.parametrize("name", NAMES)
def test_the_input_dict_is_not_kept_or_changed(name: str) -> None:
    model, drive = REGISTRY[name](), DRIVERS[name]
    for features, label in examples(6, 50):
        drive.learn(model, features, label)
    x = {"days_since_last": 70.0, "orders": 1.0}
    drive.learn(model, x, True)
    before = drive.predict(model, {"days_since_last": 70.0, "orders": 1.0})
    x["days_since_last"] = 1e9  # mutating the caller's dict must not reach the model
    assert x == {"days_since_last": 1e9, "orders": 1.0}
    assert drive.predict(model, {"days_since_last": 70.0, "orders": 1.0}) == before


@pytest.mark.parametrize("name", NAMES)
def test_same_data_same_predictions(name: str) -> None:
    first, second, drive = REGISTRY[name](), REGISTRY[name](), DRIVERS[name]
    for features, label in examples(3, 200):
        drive.learn(first, features, label)
        drive.learn(second, features, label)
    probe = {"days_since_last": 50.0, "orders": 2.0}
    assert drive.predict(first, probe) == drive.predict(second, probe)


@pytest.mark.parametrize("name", NAMES)
def test_memory_is_bounded_after_many_updates(name: str) -> None:
    model, drive = REGISTRY[name](), DRIVERS[name]
    data = examples(4, 2000)
    for features, label in data[:200]:
        drive.learn(model, features, label)
    tracemalloc.start()
    for features, label in data:
        drive.learn(model, features, label)
    grown = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert grown < 200_000, f"{grown} bytes kept after 2,000 updates with the same features"


def test_recommender_memory_is_bounded_with_ever_new_items() -> None:
    model = REGISTRY["recommendations"]()
    cap = model.config
    for i in range(20_000):
        model.learn_one([f"seen{i - 1}", f"seen{i - 2}"], f"seen{i}", 1.0)
    assert len(model.popularity) <= 2 * cap.max_items
    assert len(model.links) <= 2 * cap.max_items
    assert max(len(row) for row in model.links.values()) <= 2 * cap.neighbours


def test_recommender_suggests_what_goes_together() -> None:
    model = REGISTRY["recommendations"]()
    for _ in range(5):
        model.learn_one(["tent"], "sleeping_bag", 5.0)
        model.learn_one(["phone"], "case", 5.0)
    assert model.recommend(["tent"], 2, exclude=["tent"])[0] == "sleeping_bag"
    assert model.recommend(["phone"], 2, exclude=["phone"])[0] == "case"
    assert model.recommend([], 2) and set(model.recommend([], 2)) <= {
        "sleeping_bag",
        "case",
    }  # no context: the most popular


def test_clusters_separate_distinct_behaviours_and_name_them() -> None:
    model = REGISTRY["clusters"]()
    rng = random.Random(8)
    for _ in range(600):
        model.learn_predict_one({"views": rng.gauss(60, 5), "orders": rng.gauss(0.5, 0.3)})
        model.learn_predict_one({"views": rng.gauss(5, 2), "orders": rng.gauss(8, 1)})
    browser = model.predict_one({"views": 60.0, "orders": 0.5})
    buyer = model.predict_one({"views": 5.0, "orders": 8.0})
    assert browser != buyer
    names = model.describe()
    assert "high views" in names[browser] and "high orders" in names[buyer]


def test_suite_round_trips_and_rejects_a_foreign_checkpoint() -> None:
    config = PulseConfig()
    suite = build_suite(config)
    assert suite.churn is not None
    for features, label in examples(9, 300):
        suite.churn.learn_one(features, label)
    blobs = suite.dump_changed()
    assert suite.dump_changed() == {}  # nothing new learned since
    restored, errors = restore_suite(config, blobs)
    assert errors == [] and restored.churn is not None
    probe = {"days_since_last": 90.0, "orders": 1.0}
    assert restored.churn.predict_proba_one(probe) == suite.churn.predict_proba_one(probe)
    swapped = {"churn": blobs["clusters"]}  # the wrong kind under the churn key
    fresh, errors = restore_suite(config, swapped)
    assert errors and "not 'churn'" in errors[0]
    assert fresh.churn is not None and fresh.churn.labels == 0


def test_churn_model_separates_the_classes() -> None:
    model = REGISTRY["churn"]()
    data = examples(5, 3000)
    for features, label in data:
        model.learn_one(features, label)
    base_rate = sum(label for _, label in data) / len(data)
    # A typical churner scores well above the base rate, a typical loyal buyer well below.
    assert model.predict_proba_one({"days_since_last": 100.0, "orders": 1.0}) > 2 * base_rate
    assert model.predict_proba_one({"days_since_last": 5.0, "orders": 10.0}) < base_rate / 2


def test_checkpoints_refuse_what_they_should_not_load() -> None:
    model = REGISTRY["churn"]()
    config = model.config.to_dict()
    blob = dump(model.to_state(), "churn", config)
    assert header(blob)["kind"] == "churn"
    assert load(blob, "churn", config) == orjson.loads(orjson.dumps(model.to_state()))
    with pytest.raises(CheckpointError, match="no header"):
        load(pickle.dumps(model.to_state()), "churn", config)  # a bare pickle from elsewhere
    with pytest.raises(CheckpointError, match="another model configuration"):
        load(blob, "churn", {**config, "l2": 0.5})
    forged = blob.replace(b'"format":2', b'"format":9', 1)
    with pytest.raises(CheckpointError, match="format 9"):
        load(forged, "churn", config)
