"""models/combine.py and models/churn.py: the churn score moves only on measured evidence.

Labels arrive a horizon after their prediction, so a learner that has just begun to say
something of its own has not been measured yet; the score must not follow it until it is.
"""

from __future__ import annotations

from models.churn import INPUTS, MIXTURE_PRIOR, ChurnModel
from models.combine import ExpertMixture


def test_an_untested_learner_does_not_move_the_score() -> None:
    mix = ExpertMixture(INPUTS, prior=MIXTURE_PRIOR, tested=100)
    for _ in range(500):  # every input agreed with BG/NBD while these labels were made
        mix.update([0.3, 0.3, 0.3, 0.3], False)
    # Now the learners say something else; none of it has a final label yet.
    assert mix.mix([0.3, 0.9, 0.05, 0.6]) == 0.3
    assert mix.weights() == [1.0, 0.0, 0.0, 0.0]


def test_a_learner_measured_better_takes_over_and_a_worse_one_stays_out() -> None:
    mix = ExpertMixture(INPUTS, prior=MIXTURE_PRIOR, tested=100)
    for step in range(300):
        churned = step % 5 == 0  # a 20 % churn rate: BG/NBD's 0.6 is badly calibrated
        mix.update([0.6, 0.2, 0.9, 0.6], churned)
    weights = dict(zip(INPUTS, mix.weights(), strict=True))
    assert weights["bg_nbd_calibrated"] > 0.99
    assert weights["regression"] < 1e-6  # tested, and worse: no weight
    assert abs(mix.mix([0.6, 0.2, 0.9, 0.6]) - 0.2) < 0.01


def test_before_any_label_the_score_is_exactly_bg_nbd() -> None:
    model = ChurnModel()
    for base in (1e-3, 0.1, 0.42, 0.77, 0.999):
        assert model.score({"orders": 2.0}, base)[0] == base


def test_a_checkpoint_from_before_specialists_keeps_every_input_in_the_mix() -> None:
    old = ExpertMixture(INPUTS)
    old.update([0.3, 0.2, 0.4, 0.3], True)
    state = old.to_state()
    del state["tested"]  # written by the previous version
    restored = ExpertMixture(INPUTS, prior=MIXTURE_PRIOR, tested=100)
    restored.restore(state)
    assert restored.awake() == [True, True, True, True]
    assert restored.weights() == old.weights()
