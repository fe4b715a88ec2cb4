"""Microsoft.RecoveryServices: Recovery Services vaults and their backup protected items."""
