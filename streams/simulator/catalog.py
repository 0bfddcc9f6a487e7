"""A seeded product catalogue: categories with log-normal prices and Zipf popularity."""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass

CATEGORY_NAMES = (
    "electronics.audio",
    "electronics.phones",
    "electronics.laptops",
    "appliances.kitchen",
    "appliances.cleaning",
    "apparel.shoes",
    "apparel.dresses",
    "apparel.jackets",
    "beauty.skincare",
    "beauty.fragrance",
    "home.furniture",
    "home.decor",
    "sports.fitness",
    "sports.outdoor",
    "toys.kids",
    "books.fiction",
    "books.cooking",
    "grocery.coffee",
    "garden.tools",
    "auto.accessories",
)


@dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    category: str
    price: float


class Catalog:
    """Items per category, drawn by popularity (Zipf-like, exponent ~1)."""

    def __init__(self, seed: int, items_per_category: int = 200) -> None:
        rng = random.Random(f"catalog:{seed}")
        self.categories = CATEGORY_NAMES
        self.items: dict[str, list[Item]] = {}
        for index, category in enumerate(self.categories):
            median = rng.choice((8.0, 15.0, 30.0, 60.0, 150.0, 400.0))
            self.items[category] = [
                Item(
                    f"i{index:02d}{number:04d}",
                    category,
                    round(max(0.5, rng.lognormvariate(0.0, 0.6) * median), 2),
                )
                for number in range(items_per_category)
            ]
        weights = [1.0 / (rank + 1) for rank in range(items_per_category)]
        self._cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random, category: str) -> Item:
        position = bisect.bisect_left(self._cumulative, rng.random() * self._cumulative[-1])
        return self.items[category][position]
