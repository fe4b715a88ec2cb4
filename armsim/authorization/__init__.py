"""Microsoft.Authorization: the caller's permissions at a scope (from armsim/auth.py)."""
