-- Renew our lease (the heartbeat, from a session of its own: it must not replace holder_session).
update ${database}.${audit_schema}.COMMIT_LOCK
set expires_at = dateadd(second, %(lease_s)s, sysdate())
where lock_name = 'silver' and holder = %(holder)s;
