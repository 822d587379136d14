-- The ledger rows of the listed paths only: a run that lists a few new files reads a few rows.
select path, status, size_bytes, landed_at, checksum_sha256, table_name, _batch_id
from ${database}.${audit_schema}.FILE_LEDGER
where path in (select value::varchar from table(flatten(input => parse_json(%(paths)s))));
