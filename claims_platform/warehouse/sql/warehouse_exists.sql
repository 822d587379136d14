select count(*)
from ${database}.information_schema.tables
where table_schema = %(schema)s and table_name = 'FILE_LEDGER';
