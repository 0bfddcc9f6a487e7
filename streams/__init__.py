"""Pulse: a Kafka-native, real-time marketing event processor."""

__version__ = "0.1.0"
