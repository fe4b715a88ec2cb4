"""Application backups (`groups[].backups` of a plan): blobs an application writes to a container
in the primary region, copied server-side to a container in the secondary region on a schedule,
kept by a retention policy, their RPO reported, and named by a failover's report as the backup to
restore.

| module | holds |
|---|---|
| `record.py` | a set's record in the catalog (`backups/{plan}/{set}/state.json`) |
| `copying.py` | one look: list the source, poll copies in flight, start new ones, retention |
| `retention.py` | which copies a set's policy lets go (never the newest) |
| `status.py` | a set's RPO, newest copy, copies in flight and errors, as the API shows them |
| `report.py` | what a failover's report says about each set: the backup to restore |
"""
