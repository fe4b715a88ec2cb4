"""Drills: a plan's VMs booted from their recovery points into the isolated drill subnet,
proven (running, guest ready, the plan's checks), kept `keep_minutes`, then deleted — by the
drill saga (orchestrators/drill.py) and, for a drill whose state was lost, by the sweep."""
