-- Files of this batch another batch already committed (none, or nothing of the batch is written).
select count(*)
from ${database}.${audit_schema}.FILE_LEDGER
where path in (select value::varchar from table(flatten(input => parse_json(%(paths)s))));
