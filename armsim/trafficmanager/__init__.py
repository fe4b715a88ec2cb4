"""Microsoft.Network/trafficManagerProfiles and their endpoints (a global resource)."""
