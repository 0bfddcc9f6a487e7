"""Model checkpoints are data: restored models continue exactly, forged ones run nothing.

A checkpoint is read back from the users changelog, which anyone who can produce to the
broker can write. So the body is JSON checked field by field, never a pickle, and any
checkpoint that does not fit is refused with a reason while the model starts fresh.
"""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from models.checkpoint import MAGIC, dump
from models.suite import Suite, build_suite, restore_suite
from streams.core.config import PulseConfig

CONFIG = PulseConfig()


def teach(suite: Suite, seed: int, rounds: int) -> None:
    """Labels, clusters, links and BG/NBD refits: every kind of model update."""
    rng = random.Random(seed)
    assert suite.churn and suite.clusters and suite.recommender
    for n in range(rounds):
        x = {"orders": float(rng.randint(0, 9)), "days_since_last": rng.uniform(0, 120)}
        suite.churn.learn_one(x, rng.random() < 0.4)
        base = suite.churn.baseline(rng.randint(0, 5), 10.0, 40.0, 90.0)
        scored, inputs = suite.churn.score(x, base)
        suite.churn.learn(x, inputs, rng.random() < scored)
        suite.clusters.learn_predict_one({"views": rng.gauss(20, 8), "orders": x["orders"]})
        suite.recommender.learn_one([f"i{rng.randint(0, 30)}"], f"i{rng.randint(0, 30)}", 5.0)
        if n % 25 == 0:
            repeats = [rng.randint(0, 6) for _ in range(40)]
            suite.churn.fit_baseline(repeats, [10.0 * r for r in repeats], [80.0] * 40, n)


def answers(suite: Suite) -> list[Any]:
    assert suite.churn and suite.clusters and suite.recommender
    probes = [{"orders": float(k), "days_since_last": 7.0 * k} for k in range(8)]
    return [
        [suite.churn.score(x, 0.3) for x in probes],
        [suite.churn.contributions(x) for x in probes],
        [suite.churn.baseline(k, 5.0, 50.0, 90.0) for k in range(4)],
        [suite.clusters.predict_one({"views": 5.0 * k, "orders": k}) for k in range(8)],
        suite.clusters.centroids(),
        suite.recommender.recommend(["i3", "i7"], 5),
        suite.churn.drifts,
    ]


def test_a_restored_suite_continues_exactly_as_the_uninterrupted_one() -> None:
    running = build_suite(CONFIG)
    teach(running, seed=1, rounds=300)
    restored, errors = restore_suite(CONFIG, running.dump_changed())
    assert errors == []
    assert answers(restored) == answers(running)
    teach(running, seed=2, rounds=200)
    teach(restored, seed=2, rounds=200)
    assert answers(restored) == answers(running)


def test_a_baseline_refit_alone_makes_the_churn_checkpoint_due() -> None:
    suite = build_suite(CONFIG)
    assert suite.churn is not None
    suite.dump_changed()
    repeats = [1, 2, 0, 5] * 10
    suite.churn.fit_baseline(repeats, [9.0] * 40, [60.0] * 40, now=0)
    assert list(suite.dump_changed()) == ["churn"]  # no label, but BG/NBD moved


class Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_a_forged_pickle_with_a_valid_header_runs_no_code(tmp_path: Path) -> None:
    marker = tmp_path / "owned"
    real = build_suite(CONFIG).dump_changed()["churn"]
    head = real[: real.index(b"\n", len(MAGIC)) + 1]  # the genuine header line
    for header_line in (head, head.replace(b'"format":2', b'"format":1')):
        forged = header_line + pickle.dumps(Exploit(marker))
        suite, errors = restore_suite(CONFIG, {"churn": forged})
        assert len(errors) == 1 and errors[0].startswith("churn: ")
        assert suite.churn is not None and suite.churn.labels == 0
    assert not marker.exists()


def _corrupt(state: Any, rng: random.Random) -> Any:
    """One field somewhere in the state replaced by a wrong value."""
    if isinstance(state, dict) and state:
        key = rng.choice(sorted(state, key=str))
        copy = dict(state)
        if rng.random() < 0.15:
            del copy[key]
        else:
            copy[key] = _corrupt(state[key], rng)
        return copy
    if isinstance(state, list) and state and rng.random() < 0.8:
        index = rng.randrange(len(state))
        return [*state[:index], _corrupt(state[index], rng), *state[index + 1 :]]
    return rng.choice(["x", None, -1, 1e308, [], {}, True, [1.0] * 3, {"a": "b"}, 2**62, -(2**62)])


@pytest.mark.parametrize("name", ["churn", "clusters", "recommendations"])
def test_damaged_checkpoints_are_refused_or_harmless_never_a_crash(name: str) -> None:
    suite = build_suite(CONFIG)
    teach(suite, seed=3, rounds=120)
    member = suite.members()[name]
    config = member.config.to_dict()
    rng = random.Random(name)
    refused = 0
    for _ in range(300):
        state = _corrupt(orjson.loads(orjson.dumps(member.to_state())), rng)
        restored, errors = restore_suite(CONFIG, {name: dump(state, member.kind, config)})
        refused += bool(errors)
        # Accepted or not, the restored suite works.
        answers(restored)
    body = dump(member.to_state(), member.kind, config)
    for cut in (len(body) // 2, len(body) - 3):
        _, errors = restore_suite(CONFIG, {name: body[:cut]})
        assert errors, "a truncated checkpoint is refused"
    assert refused > 200  # most damage is caught by the field checks
