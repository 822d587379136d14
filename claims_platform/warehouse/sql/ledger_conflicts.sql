-- Files of this batch another batch already committed as processed (none, or nothing of the
-- batch is written). A quarantined file loaded no row: a later attempt (replay) replaces it.
select count(*)
from ${database}.${audit_schema}.FILE_LEDGER
where status <> 'quarantined'
    and path in (select value::varchar from table(flatten(input => parse_json(%(paths)s))));
