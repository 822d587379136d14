"""Bronze: the landing zone DMS writes into (immutable) and its listing; the bronze assets and
the landing sensor are in claims_platform.orchestration.bronze."""
