"""Benchmarks: `make bench` (python -m bench.run [section ...]) measures and prints; not tests."""
