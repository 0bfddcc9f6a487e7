"""Generate docs/features.md from the variable registry, so the docs cannot drift."""

from __future__ import annotations

from pathlib import Path

from streams.core.feature_view import markdown_table

HEADER = """# Features and rule variables

Generated from `streams/core/feature_view.py` by `python -m streams.docs_gen`; a test
fails when this file is out of date.

Per-user state is one `UserState` (features + segment memberships) of fixed size, apart
from the top-categories map (at most 5 entries) and profile attributes (at most 32).

## How the values are kept
- **Decayed windows** (`orders_7d`, `monetary_90d`, ...) are exponentially decayed sums
  with time constant N days: an order N days old weighs e^-1 (0.37), a day-old one
  e^(-1/N). Two numbers per window instead of a list of events, so state stays bounded.
  They are brought forward to the event time being processed when a rule reads them.
- **Sessions** end after 30 minutes without events. A session that added to the cart and
  ended without a purchase counts as one cart abandonment.
- **Top categories** are decayed interest scores (time constant 30 days; weights: view 1,
  wishlist 2, add to cart 3, purchase 5 per line, search with a category 1), top 5 kept.
- **Inter-purchase gap** is an EWMA (alpha 0.3) of the days between orders.
- Events arriving out of order within the allowed lateness are folded in with the weight
  of their age; an event from an earlier session does not reopen it.

## When rules are evaluated
A rule segment is evaluated for a user when an event of theirs can change a variable the
rule reads (for example `views` changes only on view clicks), on their first event of each
UTC day if the rule reads a time-dependent variable (recency, tenure, decayed windows,
value tiers), and after each of their lifecycle changes (including the time-driven ones,
fired by the watermark). Between those moments the outcome cannot change, or changes only
by time passing within one day, which Pulse picks up at the next of those moments.

## Variables
Use these names in `enter` / `exit` rules (CEL syntax: `&&`, `||`, `!`, comparisons,
`in`, `size()`, string functions). CEL does not mix int and double in arithmetic: write
`monetary / double(orders)` or compare with `2.0`. Comparisons between int and double work.

"""


def render() -> str:
    return HEADER + markdown_table() + "\n"


def main() -> None:
    path = Path(__file__).resolve().parents[1] / "docs" / "features.md"
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
