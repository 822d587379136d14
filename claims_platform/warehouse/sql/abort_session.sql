-- End a dead writer's session: its open commit transaction rolls back and its locks go.
-- (A doubled dollar sign is a literal one in these templates.)
select system$$abort_session(%(session)s);
