"""The machine-readable contract: generated, current, and true of every golden record."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from jsonschema import Draft202012Validator

from streams.core.events import InvalidEvent, decode_event
from streams.schemas import input_schema, output_schema, render

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden"


def test_the_generated_schemas_and_asyncapi_document_are_current() -> None:
    stale = [
        name for name, content in render().items() if (ROOT / "docs" / name).read_bytes() != content
    ]
    assert not stale, f"run: python -m streams.schemas ({stale})"


def test_every_golden_output_validates_against_its_schema() -> None:
    checked = 0
    for path in sorted(GOLDEN.glob("*/expected/*.jsonl")):
        for line in path.read_bytes().splitlines():
            value = orjson.loads(line)
            Draft202012Validator(output_schema(value["type"])).validate(value)
            checked += 1
    assert checked > 100


def test_inputs_the_decoder_accepts_validate_and_refused_shapes_do_not() -> None:
    accepted = 0
    for path in sorted(GOLDEN.glob("*/input.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                event = decode_event(line)
            except InvalidEvent:
                continue
            if event.type == "tick":  # (ticks are Pulse's own, not part of the contract)
                continue
            Draft202012Validator(input_schema(event.type)).validate(orjson.loads(line))
            accepted += 1
    assert accepted > 50
    search = input_schema("search")
    assert not Draft202012Validator(search).is_valid(
        {"type": "search", "event_id": "e", "user_id": "u", "ts": 1}
    )
    click = input_schema("click")
    bad_action = {"type": "click", "event_id": "e", "user_id": "u", "ts": 1, "action": "stare"}
    assert not Draft202012Validator(click).is_valid(bad_action)


def test_the_asyncapi_document_names_every_topic_with_its_messages() -> None:
    document = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    assert document["asyncapi"].startswith("3.")
    from streams.core.topics import ALL_TOPICS

    assert set(document["channels"]) == set(ALL_TOPICS)
    for message in document["components"]["messages"].values():
        assert (ROOT / "docs" / message["payload"]["$ref"]).is_file()


@pytest.mark.parametrize("kind", ["segment_change", "campaign_message", "dead_letter"])
def test_an_output_with_an_unknown_or_missing_field_is_refused(kind: str) -> None:
    schema = output_schema(kind)
    assert schema["additionalProperties"] is False and "id" in schema["required"]
