"""Failover: the request, preflight, each saga step's Azure work, and the run report."""
