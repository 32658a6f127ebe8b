"""Benchmarks (`make bench`): not tests. Each module compares against a physical reference."""
