"""Reading what AWS DMS writes to its S3 target: file names, layouts, typed rows (CONTRACT §2)."""
