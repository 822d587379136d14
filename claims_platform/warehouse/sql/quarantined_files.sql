select path, table_name, reason
from ${database}.${audit_schema}.FILE_LEDGER
where status = 'quarantined'
order by path;
