-- Start the batch's transaction and take the committers' lock: an UPDATE holds a lock on
-- COMMIT_LOCK until COMMIT or ROLLBACK, so two batches never pass the ledger check together.
-- Only the writer holding the lease updates a row (fencing: a writer whose lease expired and was
-- taken over commits nothing), and the update renews its lease.
begin transaction;
update ${database}.${audit_schema}.COMMIT_LOCK
set locked_at = sysdate(), expires_at = dateadd(second, %(lease_s)s, sysdate())
where lock_name = 'silver' and holder = %(holder)s;
