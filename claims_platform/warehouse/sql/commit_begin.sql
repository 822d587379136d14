-- Start the batch's transaction and take the committers' lock: an UPDATE holds a lock on
-- COMMIT_LOCK until COMMIT or ROLLBACK, so two batches never pass the ledger check together.
begin transaction;
update ${database}.${audit_schema}.COMMIT_LOCK set locked_at = current_timestamp()::timestamp_ntz;
