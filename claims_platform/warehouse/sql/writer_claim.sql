-- Take the single-writer lease: free, expired (its holder died or hung), ours, or held by a
-- writer of another database (`<database>/<id>`: the row came with a clone of that database, and
-- nothing here renews it). The session is recorded so that the next writer can abort it if it
-- died inside a commit: Snowflake keeps a disconnected session's open transaction, and the
-- locks it holds, for hours.
update ${database}.${audit_schema}.COMMIT_LOCK
set holder = %(holder)s, holder_session = to_varchar(current_session()), locked_at = sysdate(),
    expires_at = dateadd(second, %(lease_s)s, sysdate())
where lock_name = 'silver'
    and (
        holder is null or holder = %(holder)s or expires_at < sysdate()
        or (contains(holder, '/') and not startswith(holder, %(holder_database)s))
    );
