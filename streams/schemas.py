"""The topic contract as data: JSON Schemas (draft 2020-12) and an AsyncAPI 3 document.

Output schemas are generated from the TypedDicts in `streams/core/outputs.py` (the code
that builds the outputs), input schemas from `INPUT_SCHEMAS` below, which mirror the
decoder in `streams/core/events.py`; `python -m streams.schemas` writes `docs/schemas/` and
`docs/asyncapi.yaml`, and a test regenerates them and validates every golden input and
output against them with an independent validator (`jsonschema`).

>>> schema = output_schema("segment_change")
>>> schema["required"][:3], schema["properties"]["from"]
(['v', 'type', 'id'], {'type': ['string', 'null']})
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Union

import orjson
import yaml

from streams.core.events import CLICK_ACTIONS, CONSENT_CHANNELS, EVENT_KINDS, SCHEMA_VERSION
from streams.core.outputs import OUTPUT_TOPICS, OUTPUT_TYPES

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE = "https://pulse.example/schemas/"  # identifiers only: nothing is fetched
ROOT = Path(__file__).resolve().parents[1]


def _json_type(hint: Any) -> dict[str, Any]:
    """The JSON Schema of a Python type hint (the kinds the TypedDicts use)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return {}
    if hint is type(None) or hint is None:
        return {"type": "null"}
    if origin in (Union, types.UnionType):
        parts = [_json_type(arg) for arg in typing.get_args(hint)]
        if all(set(p) == {"type"} and isinstance(p["type"], str) for p in parts):
            return {"type": [p["type"] for p in parts]}
        return {"anyOf": parts}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is str:
        return {"type": "string"}
    if origin is list:
        (item,) = typing.get_args(hint)
        return {"type": "array", "items": _json_type(item)}
    if origin is dict:
        _, value = typing.get_args(hint)
        return {"type": "object", "additionalProperties": _json_type(value)}
    if typing.is_typeddict(hint):
        return _object(hint)
    raise TypeError(f"no JSON Schema for {hint!r}")


def _object(typed: Any) -> dict[str, Any]:
    hints = typing.get_type_hints(typed)
    required: frozenset[str] = typed.__required_keys__
    return {
        "type": "object",
        "properties": {name: _json_type(hint) for name, hint in hints.items()},
        "required": [name for name in hints if name in required],
        "additionalProperties": False,
    }


def output_schema(kind: str) -> dict[str, Any]:
    typed, topic = OUTPUT_TYPES[kind]
    schema = _object(typed)
    schema["properties"]["type"] = {"const": kind}
    schema["properties"]["v"] = {"const": SCHEMA_VERSION}
    return {
        "$schema": DIALECT,
        "$id": f"{BASE}output/{kind}.json",
        "title": f"Pulse output {kind} (topic {topic})",
        **schema,
    }


_STRING_ID = {"type": "string", "minLength": 1, "maxLength": 256}
_TS = {
    "description": "ISO-8601 with an offset, or epoch milliseconds",
    "anyOf": [{"type": "string", "minLength": 10}, {"type": "integer", "minimum": 0}],
}
_COMMON = {"event_id": _STRING_ID, "user_id": _STRING_ID, "ts": _TS, "v": {"const": 1}}
_PRICE = {"type": ["number", "null"], "minimum": 0}

# The input contract (docs/events.md), as the decoder checks it. Unknown fields are kept,
# never refused: `additionalProperties` stays open.
INPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    "click": {
        "properties": {
            "action": {"enum": sorted(CLICK_ACTIONS)},
            "item_id": {"type": ["string", "null"]},
            "category": {"type": ["string", "null"]},
            "price": _PRICE,
            "session_id": {"type": ["string", "null"]},
            "message_id": {"type": ["string", "null"]},
        },
        "required": ["action"],
    },
    "search": {
        "properties": {
            "query": {"type": "string", "maxLength": 1024},
            "results": {"type": ["integer", "null"], "minimum": 0},
            "category": {"type": ["string", "null"]},
        },
        "required": ["query"],
    },
    "purchase": {
        "properties": {
            "order_id": _STRING_ID,
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": 10_000,
                "items": {
                    "type": "object",
                    "properties": {
                        "item_id": _STRING_ID,
                        "category": {"type": ["string", "null"]},
                        "price": {"type": "number", "minimum": 0},
                        "quantity": {"type": "integer", "minimum": 1},
                    },
                    "required": ["item_id", "price"],
                },
            },
            "total": {"type": "number", "minimum": 0},
            "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
        },
        "required": ["order_id", "items", "total", "currency"],
    },
    "profile": {
        "properties": {
            "consent": {
                "type": "object",
                "propertyNames": {"enum": list(CONSENT_CHANNELS)},
                "additionalProperties": {"type": "boolean"},
            },
            "timezone": {"type": ["string", "null"]},
            "attributes": {"type": "object", "maxProperties": 32},
            "erase": {"type": "boolean"},
        },
        "required": [],
    },
}


def input_schema(kind: str) -> dict[str, Any]:
    own = INPUT_SCHEMAS[kind]
    return {
        "$schema": DIALECT,
        "$id": f"{BASE}input/{kind}.json",
        "title": f"Pulse input {kind}",
        "type": "object",
        "properties": {"type": {"const": kind}, **_COMMON, **own["properties"]},
        "required": ["type", "event_id", "user_id", "ts", *own["required"]],
    }


def asyncapi() -> dict[str, Any]:
    """An AsyncAPI 3.0 document: every topic, its key, its messages and their headers."""
    headers = {
        "type": "object",
        "properties": {
            name: {"type": "string"}
            for name in (
                "ce_specversion",
                "ce_id",
                "ce_source",
                "ce_type",
                "ce_time",
                "ce_subject",
                "content-type",
            )
        },
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "content-type"],
    }
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for kind in EVENT_KINDS:
        messages[f"input_{kind.name}"] = {
            "name": kind.name,
            "contentType": "application/json",
            "payload": {"$ref": f"schemas/input/{kind.name}.json"},
        }
        channels[kind.topic] = {
            "address": kind.topic,
            "description": f"{kind.name} events from the shop; key: the user id",
            "messages": {kind.name: {"$ref": f"#/components/messages/input_{kind.name}"}},
        }
        operations[f"consume_{kind.topic}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{kind.topic}"},
        }
    for output in OUTPUT_TYPES:
        messages[f"output_{output}"] = {
            "name": output,
            "contentType": "application/json",
            "headers": headers,
            "payload": {"$ref": f"schemas/output/{output}.json"},
        }
    for topic in OUTPUT_TOPICS:
        kinds = [k for k, (_, t) in OUTPUT_TYPES.items() if t == topic]
        if topic == "campaign-sends":
            kinds = ["campaign_message"]
        channels[topic] = {
            "address": topic,
            "description": f"Pulse outputs on {topic}; key: the user id (campaign:<name> "
            "for campaign_stats); consumers de-duplicate by id",
            "messages": {k: {"$ref": f"#/components/messages/output_{k}"} for k in kinds},
        }
        operations[f"produce_{topic}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Pulse topics",
            "version": str(SCHEMA_VERSION),
            "description": "Inputs Pulse reads and outputs it writes (docs/events.md).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> dict[str, bytes]:
    """Every generated file, by path under docs/."""
    files: dict[str, bytes] = {}
    option = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    for kind in INPUT_SCHEMAS:
        files[f"schemas/input/{kind}.json"] = (
            orjson.dumps(input_schema(kind), option=option) + b"\n"
        )
    for kind in OUTPUT_TYPES:
        files[f"schemas/output/{kind}.json"] = (
            orjson.dumps(output_schema(kind), option=option) + b"\n"
        )
    files["asyncapi.yaml"] = (
        "# Generated by python -m streams.schemas (a test keeps it current).\n"
        + yaml.safe_dump(asyncapi(), sort_keys=False, width=100)
    ).encode()
    return files


def main() -> None:
    for name, content in render().items():
        path = ROOT / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        print(path)


if __name__ == "__main__":
    main()
