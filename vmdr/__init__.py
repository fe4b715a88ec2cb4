"""vmdr: disaster recovery for Azure VMs. The domain, importable without azure.functions."""
