"""CEL rules: results are remembered by input values, never changed by it."""

from __future__ import annotations

import pytest

from streams.core import rules
from streams.core.rules import compile_rule
from streams.core.state import UserState


def with_views(user: str, views: int) -> UserState:
    state = UserState(user)
    state.features.views = views
    return state


def test_same_inputs_same_result_from_memory() -> None:
    rule = compile_rule("views >= 30")
    assert rule.evaluate(with_views("a", 31), 0) is True
    assert rule.evaluate(with_views("b", 31), 0) is True  # another user, same value
    assert rule.evaluate(with_views("c", 2), 0) is False
    assert len(rule.memo) == 2


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "MEMO_SIZE", 3)
    rule = compile_rule("views >= 30")
    results = [rule.evaluate(with_views("u", views), 0) for views in range(10)]
    assert results == [False] * 10
    assert len(rule.memo) <= 3


def test_each_compiled_rule_has_its_own_memory() -> None:
    first, second = compile_rule("views >= 30"), compile_rule("views < 30")
    state = with_views("u", 40)
    assert first.evaluate(state, 0) is True and second.evaluate(state, 0) is False
