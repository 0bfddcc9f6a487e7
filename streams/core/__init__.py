"""The pure core of Pulse: schemas, features, segments and the deterministic pipeline.

Nothing in this package imports Faust, Kafka or Prometheus, and nothing reads the wall
clock: every decision is a function of the events and their timestamps, so a recorded log
replays to the same outputs, byte for byte.
"""
