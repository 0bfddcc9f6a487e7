"""Config validation: errors name the file, the line and the fix; bad rules name the segment."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config_loader import default_config_path, load_config
from streams.core.campaign_config import Policy
from streams.core.config import ValueConfig
from streams.core.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pulse.yaml"
    path.write_text(text)
    return path


def test_the_shipped_config_is_valid() -> None:
    config = load_config(default_config_path())
    assert config.segments and config.stream.partitions >= 1


def test_the_shipped_value_tiers_and_policy_are_the_documented_defaults() -> None:
    """The YAML a user copies and the code's defaults must not drift apart."""
    config = load_config(default_config_path())
    assert config.value == ValueConfig()
    assert config.campaigns.policy.consent_source == Policy().consent_source


def test_a_rule_with_an_unknown_variable_names_file_line_segment_and_suggestion(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, 'version: 1\nsegments:\n  - name: vip\n    enter: "ordrs >= 3"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert f"{path}:4:" in message
    assert "segment 'vip'" in message and "did you mean 'orders'" in message


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('segments:\n  - name: a\n    enter: "orders >= "\n', 3, "syntax error"),
        (
            'segments:\n  - name: a\n    enter: "[1, 2].all(x, [3, 4].exists(y, x < y))"\n',
            3,
            "may not be nested",
        ),
        (
            'segments:\n  - name: a\n    enter: "' + " || ".join(["orders > 1"] * 120) + '"\n',
            3,
            "at most 1000",
        ),
        ('segments:\n  - name: a\n    enter: "orders + 1.5 > 2"\n', 3, "double"),
        ('segments:\n  - name: a\n    enter: "orders"\n', 3, "not true/false"),
        ("segments:\n  - name: a\n    enter: \"system('x')\"\n", 3, "not available"),
        (
            'segments:\n  - name: a\n    exitt: "orders > 1"\n    enter: "orders > 1"\n',
            3,
            "did you mean 'exit'",
        ),
        (
            'segments:\n  - name: a\n    enter: "orders > 1"\n  - name: a\n    enter: "orders > 2"\n',
            4,
            "defined twice",
        ),
        ('segments:\n  - name: Bad Name\n    enter: "orders > 1"\n', 2, "valid 'name'"),
        ("segments:\n  - name: a\n", 2, "no 'enter' rule"),
        ("lifecycle:\n  dormant_after_days: 30\n  churned_after_days: 10\n", 3, "greater than"),
        ("lifecycle:\n  new_days: -3\n", 2, ">= 1"),
        ("lifecycle:\n  new_days: soon\n", 2, "whole number"),
        ("stream:\n  partitions: 0\n", 2, ">= 1"),
        ("value:\n  membership:\n    metric: top_category\n", 3, "not a numeric feature"),
        ("value:\n  rfm_tiers:\n    - {name: top, min_score: 12}\n", 2, "lowest score"),
        (
            "value:\n  rfm_tiers:\n    - {name: top, min_score: 3, min_orders: 2}\n",
            2,
            "no conditions",
        ),
        ("value:\n  rfm_tiers:\n    - {name: top, min_score: 3, min_order: 2}\n", 3, "min_orders"),
        ("campaigns:\n  policy:\n    consent_source: esp\n", 3, "external"),
        ("version: 2\n", 1, "not supported"),
        ("stream:\n  partitions: 4\n  partitions: 8\n", 3, "appears twice"),
        ("stream: [\n", 2, "not valid YAML"),
        ("segmentz: []\n", 1, "did you mean 'segments'"),
    ],
)
def test_config_errors_point_at_the_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.line == line, str(info.value)
    assert words in str(info.value)
    assert info.value.fix, "every config error says how to fix it"


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")
