"""Benchmarks and long-running checks. Run with `make bench` (quick) or `make bench-full`."""
