-- Who holds the lease, in which session, and whether it has expired. A plain read: it does not
-- wait for a lock a dead writer's transaction still holds on the row.
select holder, holder_session, expires_at < sysdate() as expired
from ${database}.${audit_schema}.COMMIT_LOCK
where lock_name = 'silver';
