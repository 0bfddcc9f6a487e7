"""Docs generated from code stay in sync with it."""

from __future__ import annotations

from pathlib import Path

from streams.docs_gen import render

ROOT = Path(__file__).resolve().parents[2]


def test_features_doc_is_up_to_date() -> None:
    on_disk = (ROOT / "docs" / "features.md").read_text(encoding="utf-8")
    assert on_disk == render(), "run: python -m streams.docs_gen"


def test_every_reject_reason_is_documented_in_the_event_contract() -> None:
    from streams.core.events import REJECT_REASONS

    contract = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    missing = [reason for reason in REJECT_REASONS if f"`{reason}`" not in contract]
    assert not missing, f"docs/events.md does not explain: {missing}"
