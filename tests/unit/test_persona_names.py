"""Persona names say what the behaviour is in absolute terms, never what the log lacks."""

from __future__ import annotations

import orjson

from models.suite import suite_factory
from streams.core.config import build_config
from streams.core.pipeline import Pipeline
from streams.simulator.retail import RetailSpec, retail_events
from tests.helpers import T0


def test_a_log_with_no_discounts_or_searches_names_no_persona_after_them() -> None:
    spec = RetailSpec(customers=300, days=120, seed=5, start_ms=T0, views_per_order=6.0)
    events, _ = retail_events(spec)
    config = build_config({"stream": {"partitions": 2}}, "t.yaml")
    pipeline = Pipeline(config, suite_factory(config))
    names: set[str] = set()
    for event in events:
        for output in pipeline.process(orjson.dumps(event), {}):
            if output.value.get("dimension") == "persona":
                names.add(output.value["to"])
    assert names, "customers with enough events get a persona"
    assert not any("discount" in name or "search" in name for name in names), names
    assert names <= {
        "average",
        "low_activity",
        "high_views",
        "high_orders",
        "high_sessions",
        "high_avg_order_value",
        "high_carts",
        "high_cart_abandonment_rate",
    }
