"""The Faust worker: thin agents over the pure core (decode → load → core → save → emit)."""
