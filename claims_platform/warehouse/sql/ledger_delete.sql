-- The quarantined ledger rows a replay replaces (their attempts stay in FILE_ATTEMPTS).
delete from ${database}.${audit_schema}.FILE_LEDGER
where path in (select value::varchar from table(flatten(input => parse_json(%(paths)s))));
