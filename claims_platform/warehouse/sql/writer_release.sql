update ${database}.${audit_schema}.COMMIT_LOCK
set holder = null, expires_at = null
where lock_name = 'silver' and holder = %(holder)s;
