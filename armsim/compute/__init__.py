"""Microsoft.Compute: virtual machines, disks, snapshots, restore points, scale sets."""
