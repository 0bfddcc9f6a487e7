"""Every output value matches its TypedDict in streams/core/outputs.py and is documented."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.core.outputs import OUTPUT_TOPICS, OUTPUT_TYPES

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden"


def _golden_outputs() -> list[tuple[str, dict[str, object]]]:
    found = []
    for topic_file in sorted(GOLDEN.glob("*/expected/*.jsonl")):
        for line in topic_file.read_bytes().splitlines():
            found.append((topic_file.stem, orjson.loads(line)))
    return found


OUTPUTS = _golden_outputs()


def _keys(typed: type) -> tuple[frozenset[str], frozenset[str]]:
    """(required, optional) fields of a TypedDict."""
    return getattr(typed, "__required_keys__"), getattr(typed, "__optional_keys__")  # noqa: B009


def test_the_golden_cases_cover_every_output_type() -> None:
    # (erasure_confirmed is fed by a profile "erase": true — in the campaigns golden case)
    assert {value["type"] for _, value in OUTPUTS} == set(OUTPUT_TYPES)


@pytest.mark.parametrize("kind", sorted(OUTPUT_TYPES))
def test_every_output_of_a_type_has_exactly_its_typed_fields_on_its_topic(kind: str) -> None:
    typed, topic = OUTPUT_TYPES[kind]
    required, optional = _keys(typed)
    values = [(t, v) for t, v in OUTPUTS if v["type"] == kind]
    assert values, f"no golden output of type {kind}"
    for on_topic, value in values:
        # A message to send is also on campaign-sends (the same bytes).
        assert on_topic == topic or (kind == "campaign_message" and on_topic == "campaign-sends")
        assert required <= value.keys(), f"{kind} misses {sorted(required - value.keys())}"
        extra = value.keys() - required - optional
        assert not extra, f"{kind} has untyped fields {sorted(extra)}"


def test_every_typed_field_and_topic_is_named_in_the_event_contract() -> None:
    contract = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert all(f"`{topic}`" in contract for topic in OUTPUT_TOPICS)
    missing = sorted(
        f"{kind}.{name}"
        for kind, (typed, _) in OUTPUT_TYPES.items()
        for name in frozenset.union(*_keys(typed))
        if f"`{name}" not in contract and f'"{name}"' not in contract
    )
    assert not missing, f"docs/events.md does not name: {missing}"
