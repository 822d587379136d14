"""Bronze: the landing zone DMS writes into (immutable), its listing, ledger view and sensor."""
