"""The simulator's own controls, under /_armsim (no bearer token: loopback test tooling)."""
