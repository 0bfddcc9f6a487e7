"""Benchmarks behind `pulse bench`: figures for notes, never assertions in tests."""
