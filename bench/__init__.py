"""Benchmarks of vmdr on the local platform (`make bench`): figures next to their bounds."""
