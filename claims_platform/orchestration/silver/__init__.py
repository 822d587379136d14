"""Silver in Dagster: the change-table multi-asset (runner, commit, checks) and the replay job."""
