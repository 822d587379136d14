-- Take (or renew) the single-writer lease: free, expired (its holder died or hung) or ours.
update ${database}.${audit_schema}.COMMIT_LOCK
set holder = %(holder)s, locked_at = sysdate(), expires_at = dateadd(second, %(lease_s)s, sysdate())
where lock_name = 'silver'
    and (holder is null or holder = %(holder)s or expires_at < sysdate());
