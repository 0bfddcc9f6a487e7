"""Where the worker reaches into Faust's internals (faust-streaming 0.15, as pinned in pyproject.toml).

Each accessor names what it reads and degrades to "unknown" when a Faust release moves it,
so an upgrade shows up as a failing compat test, not as a crash in production.
"""

from __future__ import annotations

from typing import Any

from faust.types import TP


def partition_owner(app: Any, changelog_topic: str, partition: int) -> str | None:
    """The URL (Faust's `canonical_url`) of the worker that owns `partition`, from the
    group's last assignment; None while unknown (joining, rebalancing)."""
    try:
        owners = app.assignor._tps_url  # filled from every member's assignment metadata
    except AttributeError:
        return None
    url = owners.get(TP(changelog_topic, partition))
    return str(url) if url else None
