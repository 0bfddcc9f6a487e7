"""Shopper personas: how often they visit, what they do in a visit, whether they leave."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Persona:
    name: str
    share: float  # share of the user population
    visits_per_day: float  # mean visits per day while active
    views_per_visit: float  # mean product views per visit
    search_prob: float  # chance a visit starts with searching
    no_result_prob: float  # chance a search finds nothing
    cart_prob: float  # chance a viewed item goes into the cart
    purchase_prob: float  # chance a visit with a cart ends in a purchase
    price_scale: float  # multiplies catalogue prices (what they pick)
    discount_prob: float  # chance an order uses a discount/coupon
    churn: str  # "never", "after_first_purchase" or "gradual"


PERSONAS: Final = (
    Persona("bargain_hunter", 0.25, 0.22, 6.0, 0.6, 0.12, 0.12, 0.30, 0.6, 0.8, "never"),
    Persona("loyal_high_spender", 0.15, 0.15, 4.0, 0.3, 0.04, 0.30, 0.65, 2.2, 0.1, "never"),
    Persona("browser", 0.25, 0.25, 8.0, 0.6, 0.30, 0.04, 0.0, 1.0, 0.0, "never"),
    Persona(
        "one_off_buyer", 0.20, 0.20, 5.0, 0.4, 0.10, 0.20, 0.45, 1.0, 0.3, "after_first_purchase"
    ),
    Persona("gradual_churner", 0.15, 0.20, 5.0, 0.4, 0.10, 0.22, 0.50, 1.2, 0.3, "gradual"),
)

PERSONA_NAMES: Final = tuple(persona.name for persona in PERSONAS)
