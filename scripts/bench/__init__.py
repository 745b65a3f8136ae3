"""Benchmarks (research): each prints ratios against a baseline measured in the same run.

Run one as ``python -m scripts.bench.NAME`` (or ``python scripts/bench/NAME.py``).
"""
