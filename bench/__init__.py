"""Benchmark harness: see bench/run.py and the Benchmark section of README.md."""
