"""Offline evaluation of the online models on a recorded log (labels from the log itself)."""
