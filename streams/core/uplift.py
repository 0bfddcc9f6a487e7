"""Did a campaign work? Treatment against its holdout, per variant, with a 95 % interval.

Inputs are `campaign_stats` values (one per partition: the latest of each); the groups
are intent-to-treat — every candidate that passed consent was assigned to treatment or
holdout by a stable hash, whether or not a message finally went out — so the comparison
is fair. Uplift = conversion rate (treatment) − conversion rate (holdout), with a normal
approximation interval for a difference of two proportions.

>>> rows = campaign_table([{"campaign": "c", "partition": 0, "groups": {"a": {
...     "treatment": {"assigned": 1000, "converted": 300, "revenue": 6000.0},
...     "holdout": {"assigned": 1000, "converted": 200, "revenue": 4000.0}}},
...     "outcomes": {"sent:email": 900, "suppressed:holdout": 1000}, "clicks": 5}])
>>> r = rows[0]
>>> (r["campaign"], r["variant"], r["uplift"], round(r["uplift_low"], 3), round(r["uplift_high"], 3))
('c', 'a', 0.1, 0.062, 0.138)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

Z95 = 1.959964


def difference_interval(n1: int, k1: int, n0: int, k0: int) -> tuple[float, float, float] | None:
    """(p1 − p0, low, high) for k1/n1 against k0/n0; None without both groups."""
    if not n1 or not n0:
        return None
    p1, p0 = k1 / n1, k0 / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    diff = p1 - p0
    return diff, diff - Z95 * se, diff + Z95 * se


def merge(stats: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Sum partitions' campaign_stats into one record per campaign."""
    merged: dict[str, dict[str, Any]] = {}
    for row in stats:
        into = merged.setdefault(
            row["campaign"], {"groups": {}, "outcomes": {}, "clicks": 0, "sent_by_variant": {}}
        )
        into["clicks"] += row.get("clicks", 0)
        for variant, count in row.get("sent_by_variant", {}).items():
            into["sent_by_variant"][variant] = into["sent_by_variant"].get(variant, 0) + count
        for label, count in row.get("outcomes", {}).items():
            into["outcomes"][label] = into["outcomes"].get(label, 0) + count
        for variant, groups in row.get("groups", {}).items():
            target = into["groups"].setdefault(variant, {})
            for group, figures in groups.items():
                acc = target.setdefault(
                    group,
                    {"assigned": 0, "converted": 0, "revenue": 0.0, "revenue_by_currency": {}},
                )
                for key in ("assigned", "converted", "revenue"):
                    acc[key] += figures.get(key, 0)
                currencies = acc["revenue_by_currency"]
                for currency, amount in figures.get("revenue_by_currency", {}).items():
                    currencies[currency] = round(currencies.get(currency, 0.0) + amount, 2)
    return merged


def campaign_table(stats: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per campaign and variant: sizes, conversion, revenue per user, uplift."""
    rows = []
    for campaign, merged in sorted(merge(stats).items()):
        all_sent = sum(n for label, n in merged["outcomes"].items() if label.startswith("sent"))
        by_variant = merged["sent_by_variant"]
        for variant, groups in sorted(merged["groups"].items()):
            # Figures from before per-variant counts existed have only the campaign total.
            sent = by_variant.get(variant, 0) if by_variant else all_sent
            empty = {"assigned": 0, "converted": 0, "revenue": 0.0, "revenue_by_currency": {}}
            treat = groups.get("treatment", empty)
            hold = groups.get("holdout", empty)
            currencies = sorted(
                {*treat.get("revenue_by_currency", {}), *hold.get("revenue_by_currency", {})}
            )
            interval = difference_interval(
                treat["assigned"], treat["converted"], hold["assigned"], hold["converted"]
            )
            rows.append(
                {
                    "campaign": campaign,
                    "variant": variant,
                    "sent": sent,
                    "treatment": treat["assigned"],
                    "treatment_rate": _rate(treat["converted"], treat["assigned"]),
                    "treatment_revenue_per_user": _rate(treat["revenue"], treat["assigned"]),
                    "holdout": hold["assigned"],
                    "holdout_rate": _rate(hold["converted"], hold["assigned"]),
                    "holdout_revenue_per_user": _rate(hold["revenue"], hold["assigned"]),
                    # Revenue per user in each currency: never a sum across currencies.
                    "currencies": currencies,
                    "revenue_per_user_by_currency": {
                        currency: {
                            "treatment": _rate(
                                treat.get("revenue_by_currency", {}).get(currency, 0.0),
                                treat["assigned"],
                            ),
                            "holdout": _rate(
                                hold.get("revenue_by_currency", {}).get(currency, 0.0),
                                hold["assigned"],
                            ),
                        }
                        for currency in currencies
                    },
                    "uplift": None if interval is None else round(interval[0], 6),
                    "uplift_low": None if interval is None else interval[1],
                    "uplift_high": None if interval is None else interval[2],
                    "clicks": merged["clicks"],
                }
            )
    return rows


def pool_variants(stats: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same campaign_stats with each campaign's variants summed into one, `all`.

    >>> row = {"campaign": "c", "groups": {"a": {"holdout": {"assigned": 2, "converted": 1,
    ...     "revenue": 5.0}}, "b": {"holdout": {"assigned": 3, "converted": 0, "revenue": 0.0}}}}
    >>> pool_variants([row])[0]["groups"]
    {'all': {'holdout': {'assigned': 5, 'converted': 1, 'revenue': 5.0}}}
    """
    pooled = []
    for row in stats:
        groups: dict[str, dict[str, float]] = {}
        for figures in row["groups"].values():
            for group, values in figures.items():
                acc = groups.setdefault(group, {"assigned": 0, "converted": 0, "revenue": 0.0})
                for key in acc:
                    acc[key] += values.get(key, 0)
        pooled.append({**row, "groups": {"all": groups}})
    return pooled


def _rate(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 6) if denominator else None
