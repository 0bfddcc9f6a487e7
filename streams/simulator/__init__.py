"""A seeded shop simulator: personas that browse, search, buy and drift away."""
