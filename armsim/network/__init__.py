"""Microsoft.Network: network interfaces (Traffic Manager lives in armsim.trafficmanager)."""
